package armemu

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"time"
)

// ServerOptions say where a Server listens and writes its CA.
type ServerOptions struct {
	// Addr is the listen address. Default 127.0.0.1:0 (a free port).
	Addr string
	// CAFile receives the PEM of the CA that signed the serving
	// certificate: the SDK sends bearer tokens over https only, so clients
	// trust this file (a transport with it among its roots;
	// meshops reads it from MESHOPS_ARM_CA_FILE).
	// Required.
	CAFile string
}

// Server is an Emulator served over HTTPS on 127.0.0.1.
type Server struct {
	*Emulator
	// URL is https://127.0.0.1:<port>: the ARM endpoint, and the authority
	// host of the emulated Entra ID.
	URL    string
	CAFile string
	// CertPool trusts the server, for Go clients in tests.
	CertPool *x509.CertPool

	srv *http.Server
	ln  net.Listener
}

// Start creates an Emulator and serves it until Close.
func Start(opts Options, so ServerOptions) (*Server, error) {
	if so.CAFile == "" {
		return nil, errors.New("armemu: ServerOptions.CAFile is required")
	}
	if so.Addr == "" {
		so.Addr = "127.0.0.1:0"
	}
	e, err := New(opts)
	if err != nil {
		return nil, err
	}
	host, _, err := net.SplitHostPort(so.Addr)
	if err != nil {
		return nil, fmt.Errorf("armemu: listen address %q: %w", so.Addr, err)
	}
	cert, caPEM, err := selfSignedServing(host)
	if err != nil {
		return nil, fmt.Errorf("armemu: serving certificate: %w", err)
	}
	if err := os.WriteFile(so.CAFile, caPEM, 0o644); err != nil {
		return nil, fmt.Errorf("armemu: writing the CA: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	ln, err := net.Listen("tcp", so.Addr)
	if err != nil {
		return nil, fmt.Errorf("armemu: %w", err)
	}
	s := &Server{
		Emulator: e,
		URL:      "https://" + ln.Addr().String(),
		CAFile:   so.CAFile,
		CertPool: pool,
		srv: &http.Server{
			Handler:           e,
			ReadHeaderTimeout: 10 * time.Second,
			TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		},
		ln: ln,
	}
	go func() { _ = s.srv.ServeTLS(ln, "", "") }()
	return s, nil
}

// AuthorityHost is the Entra ID authority host for azidentity
// (ClientOptions.Cloud.ActiveDirectoryAuthorityHost or AZURE_AUTHORITY_HOST).
// azidentity must also set DisableInstanceDiscovery: the emulator has no
// instance discovery endpoint, and MSAL would otherwise ask the real one.
func (s *Server) AuthorityHost() string { return s.URL + "/" }

// Close stops serving and then the emulator's operations.
func (s *Server) Close() error {
	err := s.srv.Close()
	s.Emulator.Close()
	return err
}

// selfSignedServing makes a CA and a serving certificate for host (an IP
// or a name) and localhost, and returns the CA's PEM. Each emulator has its
// own: nothing else ever trusts it.
func selfSignedServing(host string) (tls.Certificate, []byte, error) {
	now := time.Now().Add(-time.Minute)
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "meshops ARM emulator CA"},
		NotBefore: now, NotAfter: now.Add(30 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "meshops ARM emulator"},
		NotBefore: now, NotAfter: now.Add(30 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() && !ip.Equal(net.ParseIP("127.0.0.1")) {
		tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
	} else if ip == nil && host != "" && host != "localhost" {
		tmpl.DNSNames = append(tmpl.DNSNames, host)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), nil
}
