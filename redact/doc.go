// Package redact is meshops' one rule for what must never be shown: every
// output (validate --show, plans in every format and their --base changes,
// PR comments, the state record, log lines, errors) masks through it, so a
// secret is hidden or shown the same way everywhere.
//
// A value is masked for its key or for what it looks like:
//
//   - under a secret key (token, password, secret, privateKey, apiKey,
//     connectionString, accessKey, …, in any of camelCase, snake_case,
//     kebab-case), every value except booleans, numbers, null and a few
//     harmless words (true, none, …);
//   - under a credential-like key (key, auth, authorization, credential,
//     signature, cookie, …), values that look like a random token;
//   - under any key, and inside larger strings (a mesh config's YAML text, a
//     header value list, an error message): Authorization credentials
//     (Bearer …, Basic …), URL userinfo passwords and token-like usernames,
//     token query parameters (access_token, sig, code, key, …), connection
//     string secrets (SharedAccessKey=, AccountKey=, Password=), PEM private
//     key blocks, JWTs, GitHub and AWS access key ids, and "secretKey: value"
//     pairs written inside text.
//
// Names, SPIFFE principals, hostnames, image names, booleans and numbers
// are left alone. The package imports nothing of meshops, so every layer
// can use it.
package redact
