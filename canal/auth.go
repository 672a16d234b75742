package canal

import (
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// User is an account Canal clients authenticate as.
type User struct {
	// Name is the user name the client sends.
	Name string
	// Password is the password in clear, or "*" followed by the 40 hex
	// digits of SHA1(SHA1(password)) — what Canal's canal.passwd holds
	// (SecurityUtil.scrambleGenPass), and MySQL's PASSWORD(). Empty: any
	// password is accepted for this user, as Canal does.
	Password string
}

// credential is a User ready for checking: stage2 = SHA1(SHA1(password)).
type credential struct {
	stage2 []byte // nil when the user has no password
	plain  []byte // the clear password, when configured in clear
}

// newCredential reads a User's Password.
func newCredential(u User) (credential, error) {
	if u.Password == "" {
		return credential{}, nil
	}
	if h, ok := strings.CutPrefix(u.Password, "*"); ok && len(h) == 40 {
		b, err := hex.DecodeString(h)
		if err != nil {
			return credential{}, fmt.Errorf("user %s: password hash: want * and 40 hex digits", u.Name)
		}
		return credential{stage2: b}, nil
	}
	s1 := sha1.Sum([]byte(u.Password))
	s2 := sha1.Sum(s1[:])
	return credential{stage2: s2[:], plain: []byte(u.Password)}, nil
}

// PasswordHash returns the form of password a User may hold instead of
// the clear text: "*" and the hex of SHA1(SHA1(password)), as Canal's
// SecurityUtil.scrambleGenPass computes it for canal.passwd.
func PasswordHash(password string) string {
	s1 := sha1.Sum([]byte(password))
	s2 := sha1.Sum(s1[:])
	return "*" + strings.ToUpper(hex.EncodeToString(s2[:]))
}

// scramble is what a Canal client sends for password with the
// handshake's seed: SHA1(password) XOR SHA1(seed + SHA1(SHA1(password)))
// (Canal's SecurityUtil.scramble411), before hex encoding.
func scramble(password, seed []byte) []byte {
	s1 := sha1.Sum(password)
	s2 := sha1.Sum(s1[:])
	h := sha1.New()
	h.Write(seed)
	h.Write(s2[:])
	out := h.Sum(nil)
	for i := range out {
		out[i] ^= s1[i]
	}
	return out
}

// check verifies the token a client sent: the hex text of scramble (Java
// and Go clients), or, for a user whose password is configured in clear,
// the clear password (canal-python sends it so).
func (c credential) check(token, seed []byte) bool {
	if c.stage2 == nil {
		return true
	}
	if len(token) == 40 {
		if t, err := hex.DecodeString(string(token)); err == nil {
			// SHA1(token XOR SHA1(seed + stage2)) must be stage2.
			h := sha1.New()
			h.Write(seed)
			h.Write(c.stage2)
			s1 := h.Sum(nil)
			for i := range s1 {
				s1[i] ^= t[i]
			}
			s2 := sha1.Sum(s1)
			if subtle.ConstantTimeCompare(s2[:], c.stage2) == 1 {
				return true
			}
		}
	}
	return c.plain != nil && subtle.ConstantTimeCompare(token, c.plain) == 1
}

// errAuth is a failed authentication; the client gets Canal's message.
var errAuth = errors.New("authentication failed")
