package gitsource

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"

	"github.com/meshops/meshops/redact"
)

// authMethod turns the credentials into go-git's auth for the URL's scheme,
// refusing set-ups that would leak a secret or trust an unknown host.
func authMethod(o Options) (transport.AuthMethod, error) {
	ep, err := transport.NewEndpoint(o.URL)
	if err != nil {
		return nil, fmt.Errorf("git source: URL: %w", redact.Error(err))
	}
	if ep.Password != "" {
		return nil, errors.New("git source: URL carries a password; put credentials in a Secret or credentials folder instead")
	}
	c := o.Auth
	switch ep.Protocol {
	case "https", "http":
		if len(c.Identity) > 0 && c.Username == "" && c.Password == "" && c.BearerToken == "" {
			return nil, fmt.Errorf("git source: %s URL with an SSH identity only; use an ssh:// URL or give username/password or bearerToken", ep.Protocol)
		}
		if ep.Protocol == "http" && (c.Password != "" || c.BearerToken != "") && !o.InsecureHTTP {
			return nil, errors.New("git source: refusing to send credentials over plain http; use https or set InsecureHTTP")
		}
		switch {
		case c.BearerToken != "":
			return &githttp.TokenAuth{Token: c.BearerToken}, nil
		case c.Username != "" || c.Password != "":
			return &githttp.BasicAuth{Username: c.Username, Password: c.Password}, nil
		}
		return nil, nil
	case "ssh":
		return sshAuth(ep, o)
	case "file":
		return nil, nil
	}
	return nil, fmt.Errorf("git source: unsupported URL scheme %q", ep.Protocol)
}

func sshAuth(ep *transport.Endpoint, o Options) (transport.AuthMethod, error) {
	c := o.Auth
	if len(c.Identity) == 0 {
		return nil, fmt.Errorf("git source: ssh URL needs a private key (%s)", KeyIdentity)
	}
	user := ep.User
	if user == "" {
		user = c.Username
	}
	if user == "" {
		user = "git"
	}
	keys, err := gitssh.NewPublicKeys(user, c.Identity, c.Password)
	if err != nil {
		return nil, fmt.Errorf("git source: %s: %w", KeyIdentity, err)
	}
	if o.InsecureIgnoreHostKey {
		keys.HostKeyCallback = ssh.InsecureIgnoreHostKey()
		return keys, nil
	}
	if len(c.KnownHosts) == 0 {
		return nil, fmt.Errorf("git source: ssh URL needs %s to check the server's host key (or InsecureIgnoreHostKey)", KeyKnownHosts)
	}
	db, err := knownHostsDB(c.KnownHosts)
	if err != nil {
		return nil, err
	}
	port := ep.Port
	if port == 0 {
		port = 22
	}
	keys.HostKeyCallback = db.HostKeyCallback()
	// Offer only the key types known_hosts lists for this host, or the
	// server may present another type and be refused as a changed key.
	keys.HostKeyAlgorithms = db.HostKeyAlgorithms(net.JoinHostPort(ep.Host, strconv.Itoa(port)))
	return keys, nil
}

// knownHostsDB parses known_hosts lines. The parser reads files only, so
// the lines go through a private temporary file that is removed at once.
func knownHostsDB(lines []byte) (*knownhosts.HostKeyDB, error) {
	f, err := os.CreateTemp("", "meshops-known-hosts-")
	if err != nil {
		return nil, fmt.Errorf("git source: %s: %w", KeyKnownHosts, err)
	}
	defer os.Remove(f.Name())
	_, werr := f.Write(lines)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, fmt.Errorf("git source: %s: %w", KeyKnownHosts, werr)
	}
	db, err := knownhosts.NewDB(f.Name())
	if err != nil {
		return nil, fmt.Errorf("git source: %s: %w", KeyKnownHosts, err)
	}
	return db, nil
}
