package address

import (
	"net/url"
	"regexp"
	"strings"
)

// Mask is what Redact puts in place of a secret.
const Mask = "***"

// secretNames are query parameter names (lower case, without '-', '_' and
// '.') that hold a secret.
var secretNames = map[string]bool{
	"pass": true, "pwd": true, "secret": true, "token": true,
	"apikey": true, "accesskey": true, "secretkey": true, "privatekey": true, "credentials": true,
	"authmechanismproperties": true, // MongoDB: may carry AWS_SESSION_TOKEN
	"sig":                     true, "signature": true, "hmac": true,
}

// secretSuffixes mark a name as a secret when it ends with one of them
// (password, sslpassword, sasl_password, tlsCertificateKeyFilePassword,
// auth_token, client_secret, x-api-key …).
var secretSuffixes = []string{"password", "passwd", "passphrase", "secret", "token", "apikey", "accesskey", "secretkey"}

// IsSecret reports whether a query parameter of this name holds a secret
// whose value must never be shown.
func IsSecret(name string) bool {
	n := strings.Map(func(r rune) rune {
		switch r {
		case '-', '_', '.':
			return -1
		}
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, name)
	if secretNames[n] {
		return true
	}
	for _, s := range secretSuffixes {
		if strings.HasSuffix(n, s) {
			return true
		}
	}
	return false
}

// Redact returns raw with its secrets replaced by Mask: the password of
// its userinfo (user:***@host) and the value of every query parameter
// IsSecret names (?password=***). Everything else — scheme, user, hosts
// (also several, comma-separated), path, other parameters and their order
// — is kept as written. Text that does not parse as a URL is masked by the
// same rules on its text.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return redactUnparsed(raw)
	}
	out := raw
	if u.User != nil {
		if _, has := u.User.Password(); has {
			out = maskUserinfoPassword(out)
		}
	}
	if u.RawQuery != "" {
		i := strings.IndexByte(out, '?')
		if i >= 0 {
			end := len(out)
			if j := strings.IndexByte(out[i:], '#'); j >= 0 {
				end = i + j
			}
			out = out[:i+1] + redactQuery(out[i+1:end]) + out[end:]
		}
	}
	return out
}

// maskUserinfoPassword masks what lies between the first ':' of the
// userinfo and the last '@' before the host, in the text as written (so
// the result keeps the URL's own escaping and host list).
func maskUserinfoPassword(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		// "scheme:opaque" URLs have no userinfo.
		return s
	}
	authEnd := strings.IndexAny(rest, "/?#")
	if authEnd < 0 {
		authEnd = len(rest)
	}
	at := strings.LastIndexByte(rest[:authEnd], '@')
	if at < 0 {
		return s
	}
	colon := strings.IndexByte(rest[:at], ':')
	if colon < 0 {
		return s
	}
	return scheme + "://" + rest[:colon+1] + Mask + rest[at:]
}

// redactQuery masks the values of secret parameters in a raw query string,
// keeping every parameter in place.
func redactQuery(q string) string {
	parts := strings.Split(q, "&")
	changed := false
	for i, p := range parts {
		k, _, hasValue := strings.Cut(p, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			name = k
		}
		if hasValue && IsSecret(name) {
			parts[i] = k + "=" + Mask
			changed = true
		}
	}
	if !changed {
		return q
	}
	return strings.Join(parts, "&")
}

// unparsedSecret finds key=value secrets in text that is not a URL.
var unparsedSecret = regexp.MustCompile(`([?&;\s]|^)([A-Za-z0-9_.\-]+)=([^&;\s]*)`)

// redactUnparsed masks a userinfo password and secret key=value pairs in
// text that url.Parse refused.
func redactUnparsed(s string) string {
	s = maskUserinfoPassword(s)
	return unparsedSecret.ReplaceAllStringFunc(s, func(m string) string {
		sub := unparsedSecret.FindStringSubmatch(m)
		if !IsSecret(sub[2]) {
			return m
		}
		return sub[1] + sub[2] + "=" + Mask
	})
}

// Secrets returns the secret values raw holds (the userinfo password and
// the values of secret query parameters), in each form they may take in
// text: as written, decoded, and query- and path-escaped. Empty values are
// left out.
func Secrets(raw string) []string {
	var out []string
	add := func(v string) {
		if v == "" {
			return
		}
		for _, f := range []string{v, url.QueryEscape(v), url.PathEscape(v)} {
			if !contains(out, f) {
				out = append(out, f)
			}
		}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		// Unparsable: take what the text masking would hide.
		masked := redactUnparsed(raw)
		if masked != raw {
			for _, m := range unparsedSecret.FindAllStringSubmatch(raw, -1) {
				if IsSecret(m[2]) {
					add(m[3])
				}
			}
			if _, rest, ok := strings.Cut(raw, "://"); ok {
				if at := strings.LastIndexByte(rest, '@'); at >= 0 {
					if _, p, ok := strings.Cut(rest[:at], ":"); ok {
						add(p)
					}
				}
			}
		}
		return out
	}
	if u.User != nil {
		if p, ok := u.User.Password(); ok {
			add(p)
		}
	}
	for _, p := range strings.Split(u.RawQuery, "&") {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		name, err := url.QueryUnescape(k)
		if err != nil {
			name = k
		}
		if !IsSecret(name) {
			continue
		}
		add(v)
		if dv, err := url.QueryUnescape(v); err == nil {
			add(dv)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// RedactText replaces every secret of the given URLs (see Secrets) in s
// with Mask. Longer secrets are replaced first, so a secret that contains
// another is masked whole.
func RedactText(s string, urls ...string) string {
	var secrets []string
	for _, u := range urls {
		secrets = append(secrets, Secrets(u)...)
	}
	// Longest first.
	for i := 1; i < len(secrets); i++ {
		for j := i; j > 0 && len(secrets[j]) > len(secrets[j-1]); j-- {
			secrets[j], secrets[j-1] = secrets[j-1], secrets[j]
		}
	}
	for _, sec := range secrets {
		s = strings.ReplaceAll(s, sec, Mask)
	}
	return s
}

// RedactError returns err with the secrets of the given URLs masked in its
// text (see RedactText). The result unwraps to err, so errors.Is and
// errors.As keep working; err itself is returned when its text holds no
// secret.
func RedactError(err error, urls ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	masked := RedactText(msg, urls...)
	if masked == msg {
		return err
	}
	return &redactedError{msg: masked, err: err}
}

// redactedError shows a masked message and unwraps to the original error.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// ParseError returns the error of url.Parse without the URL it quotes (a
// *url.Error's text holds the whole input, password and all).
func ParseError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}
