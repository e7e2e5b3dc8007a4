package probe

// Check is what the catalogue says of one check: the texts an import
// records once per check (ChecksDescribed) and its default severity.
type Check struct {
	ID          string
	Probe       string // headers, tls
	Title       string
	Severity    string // of a failure, when the result names none
	Description string
	Remediation string
	Reference   string
}

// The check ids (stable: a finding's identity holds its check id).
const (
	CheckHSTS               = "hsts"
	CheckCSP                = "csp"
	CheckFrameOptions       = "frame_options"
	CheckContentTypeOptions = "content_type_options"
	CheckReferrerPolicy     = "referrer_policy"
	CheckPermissionsPolicy  = "permissions_policy"
	CheckCookieSecure       = "cookie_secure"
	CheckCookieHTTPOnly     = "cookie_httponly"
	CheckCookieSameSite     = "cookie_samesite"
	CheckServerBanner       = "server_banner"
	CheckPoweredBy          = "powered_by_banner"

	CheckSSLv3          = "protocol_sslv3"
	CheckTLS10          = "protocol_tls10"
	CheckTLS11          = "protocol_tls11"
	CheckModernProtocol = "protocol_modern"
	CheckWeakCiphers    = "weak_cipher_suites"
	CheckChain          = "cert_chain_valid"
	CheckHostname       = "cert_hostname"
	CheckExpiry         = "cert_expiry"
	CheckSelfSigned     = "cert_self_signed"
)

// CookieChecks are the checks made once per cookie.
var CookieChecks = []string{CheckCookieSecure, CheckCookieHTTPOnly, CheckCookieSameSite}

// Checks is the catalogue, by check id.
var Checks = map[string]Check{
	CheckHSTS: {Probe: ProbeHeaders, Title: "Strict-Transport-Security is set with a long max-age", Severity: "medium",
		Description: "An HTTPS site should send Strict-Transport-Security with a max-age of at least the documented minimum (180 days by default) so browsers never fall back to plain HTTP; includeSubDomains and preload are noted. A target served over plain HTTP fails.",
		Remediation: "Send `Strict-Transport-Security: max-age=31536000; includeSubDomains` on every HTTPS response.",
		Reference:   "https://developer.mozilla.org/docs/Web/HTTP/Headers/Strict-Transport-Security"},
	CheckCSP: {Probe: ProbeHeaders, Title: "Content-Security-Policy is set without unsafe-inline or unsafe-eval", Severity: "medium",
		Description: "A Content-Security-Policy limits where scripts and other content load from. Missing, it fails (medium); present with 'unsafe-inline' or 'unsafe-eval' in script-src (or default-src), it fails (low) and the keywords are named.",
		Remediation: "Send a Content-Security-Policy; replace inline scripts and eval with nonces or hashes.",
		Reference:   "https://developer.mozilla.org/docs/Web/HTTP/CSP"},
	CheckFrameOptions: {Probe: ProbeHeaders, Title: "Framing is restricted (X-Frame-Options or CSP frame-ancestors)", Severity: "medium",
		Description: "X-Frame-Options DENY or SAMEORIGIN, or a CSP frame-ancestors directive, stops other sites framing the page (clickjacking).",
		Remediation: "Send `Content-Security-Policy: frame-ancestors 'self'` (or `X-Frame-Options: DENY`).",
		Reference:   "https://developer.mozilla.org/docs/Web/HTTP/Headers/X-Frame-Options"},
	CheckContentTypeOptions: {Probe: ProbeHeaders, Title: "X-Content-Type-Options is nosniff", Severity: "low",
		Description: "X-Content-Type-Options: nosniff stops browsers guessing a response's type (MIME sniffing).",
		Remediation: "Send `X-Content-Type-Options: nosniff`.",
		Reference:   "https://developer.mozilla.org/docs/Web/HTTP/Headers/X-Content-Type-Options"},
	CheckReferrerPolicy: {Probe: ProbeHeaders, Title: "Referrer-Policy does not leak full URLs", Severity: "low",
		Description: "Referrer-Policy should be set, and not to unsafe-url or no-referrer-when-downgrade, which send full URLs to other origins.",
		Remediation: "Send `Referrer-Policy: strict-origin-when-cross-origin` (or stricter).",
		Reference:   "https://developer.mozilla.org/docs/Web/HTTP/Headers/Referrer-Policy"},
	CheckPermissionsPolicy: {Probe: ProbeHeaders, Title: "Permissions-Policy is set", Severity: "low",
		Description: "Permissions-Policy restricts the browser features (camera, geolocation...) a page and its frames may use.",
		Remediation: "Send a Permissions-Policy naming the features the site uses, e.g. `Permissions-Policy: camera=(), geolocation=()`.",
		Reference:   "https://developer.mozilla.org/docs/Web/HTTP/Headers/Permissions-Policy"},
	CheckCookieSecure: {Probe: ProbeHeaders, Title: "Cookie is Secure", Severity: "medium",
		Description: "A cookie without the Secure attribute is sent over plain HTTP too. One result per cookie the response sets; a response setting no cookie passes on the target.",
		Remediation: "Set the Secure attribute on every cookie.",
		Reference:   "https://developer.mozilla.org/docs/Web/HTTP/Cookies#restrict_access_to_cookies"},
	CheckCookieHTTPOnly: {Probe: ProbeHeaders, Title: "Cookie is HttpOnly", Severity: "low",
		Description: "A cookie without HttpOnly is readable by scripts (and by an injected one). One result per cookie.",
		Remediation: "Set HttpOnly on every cookie scripts do not need to read.",
		Reference:   "https://developer.mozilla.org/docs/Web/HTTP/Cookies#restrict_access_to_cookies"},
	CheckCookieSameSite: {Probe: ProbeHeaders, Title: "Cookie has SameSite", Severity: "low",
		Description: "A cookie should say SameSite=Lax or Strict; SameSite=None passes only with Secure. Missing, it fails. One result per cookie.",
		Remediation: "Set SameSite=Lax (or Strict) on every cookie.",
		Reference:   "https://developer.mozilla.org/docs/Web/HTTP/Headers/Set-Cookie#samesitesamesite-value"},
	CheckServerBanner: {Probe: ProbeHeaders, Title: "Server header names no version", Severity: "low",
		Description: "A Server header naming a product version (nginx/1.18.0) tells attackers which vulnerabilities to try.",
		Remediation: "Drop the version from the Server header (nginx: server_tokens off; Apache: ServerTokens Prod).",
		Reference:   "https://owasp.org/www-project-secure-headers/"},
	CheckPoweredBy: {Probe: ProbeHeaders, Title: "X-Powered-By is not sent", Severity: "low",
		Description: "X-Powered-By names the framework (and often its version) behind the site.",
		Remediation: "Stop sending X-Powered-By (Express: app.disable('x-powered-by'); PHP: expose_php = Off).",
		Reference:   "https://owasp.org/www-project-secure-headers/"},

	CheckSSLv3: {Probe: ProbeTLS, Title: "SSLv3 is not offered", Severity: "high",
		Description: "SSLv3 is broken (POODLE). Go's TLS client cannot offer it: the probe sends a hand-made SSLv3 ClientHello and fails the check when the server answers with an SSLv3 ServerHello. A connection that could not be made reports it not checked (imported as nothing).",
		Remediation: "Disable SSLv3.", Reference: "https://datatracker.ietf.org/doc/html/rfc7568"},
	CheckTLS10: {Probe: ProbeTLS, Title: "TLS 1.0 is not offered", Severity: "medium",
		Description: "TLS 1.0 is deprecated (RFC 8996). The probe offers only TLS 1.0; a handshake that completes fails the check.",
		Remediation: "Disable TLS 1.0; offer TLS 1.2 and 1.3.", Reference: "https://datatracker.ietf.org/doc/html/rfc8996"},
	CheckTLS11: {Probe: ProbeTLS, Title: "TLS 1.1 is not offered", Severity: "medium",
		Description: "TLS 1.1 is deprecated (RFC 8996). The probe offers only TLS 1.1; a handshake that completes fails the check.",
		Remediation: "Disable TLS 1.1; offer TLS 1.2 and 1.3.", Reference: "https://datatracker.ietf.org/doc/html/rfc8996"},
	CheckModernProtocol: {Probe: ProbeTLS, Title: "TLS 1.2 or 1.3 is offered", Severity: "high",
		Description: "A server should offer TLS 1.2 or TLS 1.3; one offering neither fails. The versions offered are named.",
		Remediation: "Enable TLS 1.2 and TLS 1.3.", Reference: "https://datatracker.ietf.org/doc/html/rfc8446"},
	CheckWeakCiphers: {Probe: ProbeTLS, Title: "No weak cipher suite is accepted", Severity: "medium",
		Description: "Each weak suite Go can offer (RC4, 3DES, CBC with SHA-1 or SHA-256, RSA key exchange without forward secrecy) is offered alone at TLS 1.0-1.2; the suites the server accepts are named.",
		Remediation: "Accept only AEAD suites with ECDHE key exchange (AES-GCM, ChaCha20-Poly1305).",
		Reference:   "https://wiki.mozilla.org/Security/Server_Side_TLS"},
	CheckChain: {Probe: ProbeTLS, Title: "Certificate chain is trusted", Severity: "high",
		Description: "The chain the server sends must lead to a trusted root (the system's, or the configured pool). Checked at a time within the leaf's validity, so an expired certificate fails cert_expiry, not this check.",
		Remediation: "Serve a certificate from a trusted CA with its intermediates.",
		Reference:   "https://datatracker.ietf.org/doc/html/rfc5280"},
	CheckHostname: {Probe: ProbeTLS, Title: "Certificate matches the host name", Severity: "high",
		Description: "The leaf certificate must name the probed host (its SANs).",
		Remediation: "Serve a certificate whose subject alternative names include the host.",
		Reference:   "https://datatracker.ietf.org/doc/html/rfc6125"},
	CheckExpiry: {Probe: ProbeTLS, Title: "Certificate is valid and not expiring soon", Severity: "high",
		Description: "The leaf certificate must be within its validity period and not expire within the warning window (30 days by default): expired or not yet valid fails high, expiring soon fails medium. The result carries not_after.",
		Remediation: "Renew the certificate (automate renewal, e.g. ACME).",
		Reference:   "https://datatracker.ietf.org/doc/html/rfc5280#section-4.1.2.5"},
	CheckSelfSigned: {Probe: ProbeTLS, Title: "Certificate is not self-signed", Severity: "medium",
		Description: "A leaf certificate signed by its own key is trusted by nobody but those told to.",
		Remediation: "Serve a certificate issued by a trusted CA.",
		Reference:   "https://datatracker.ietf.org/doc/html/rfc5280"},
}

func init() {
	for id, c := range Checks {
		c.ID = id
		Checks[id] = c
	}
}
