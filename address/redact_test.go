package address

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"mysql://repl:s3cret@db:3306/?server-id=4242", "mysql://repl:***@db:3306/?server-id=4242"},
		{"mariadb://repl@db/", "mariadb://repl@db/"},
		{"mysql://repl:@db/", "mysql://repl:***@db/"},
		{"postgres://u@db/x?password=s3cret", "postgres://u@db/x?password=***"},
		{"postgres://u@db/x?sslmode=verify-full&sslpassword=k3y&slot=s", "postgres://u@db/x?sslmode=verify-full&sslpassword=***&slot=s"},
		{"postgresql://u:p%40ss@db:5432/x?PASSWORD=again", "postgresql://u:***@db:5432/x?PASSWORD=***"},
		{"postgres://u:p@ss@db/x", "postgres://u:***@db/x"},
		{"mongodb://admin:pw@h1:27017,h2:27017/shop?replicaSet=rs0&authMechanismProperties=AWS_SESSION_TOKEN:tok", "mongodb://admin:***@h1:27017,h2:27017/shop?replicaSet=rs0&authMechanismProperties=***"},
		{"mongodb+srv://u:pw@cluster.example/?tlsCertificateKeyFilePassword=x", "mongodb+srv://u:***@cluster.example/?tlsCertificateKeyFilePassword=***"},
		{"kafka://b1:9092,b2:9092/?topic=t&sasl_user=u&sasl_password=pw", "kafka://b1:9092,b2:9092/?topic=t&sasl_user=u&sasl_password=***"},
		{"redis://:pw@cache:6379/0", "redis://:***@cache:6379/0"},
		{"nats://host:4222/?token=abc&subject=x", "nats://host:4222/?token=***&subject=x"},
		{"https://hook.example/p?secret=s&x=1#frag", "https://hook.example/p?secret=***&x=1#frag"},
		{"https://hook.example/p?api-key=k&client_secret=c&auth_token=t", "https://hook.example/p?api-key=***&client_secret=***&auth_token=***"},
		{"etcd://u:pw@h:2379/prefix?pass=x&pwd=y", "etcd://u:***@h:2379/prefix?pass=***&pwd=***"},
		{"file:///var/lib/changes.jsonl", "file:///var/lib/changes.jsonl"},
		{"stdout://", "stdout://"},
		{"mysql://db/?tls-key=/etc/key.pem&tls-cert=/etc/c.pem", "mysql://db/?tls-key=/etc/key.pem&tls-cert=/etc/c.pem"},
		{"postgres://u@db/x?password", "postgres://u@db/x?password"},
		// Not URLs: masked by the same rules on the text.
		{"mysql://repl:s3cret@db:3306/%zz", "mysql://repl:***@db:3306/%zz"},
		{"host=db user=u password=s3cret sslmode=require", "host=db user=u password=*** sslmode=require"},
		{"no secrets here", "no secrets here"},
	}
	for _, tt := range tests {
		if got := Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

func TestIsSecret(t *testing.T) {
	for _, name := range []string{"password", "Password", "sslpassword", "pass", "pwd", "token", "secret", "sasl_password",
		"sasl.password", "tlsCertificateKeyFilePassword", "auth-token", "client_secret", "api_key", "x-api-key", "passphrase", "authMechanismProperties"} {
		if !IsSecret(name) {
			t.Errorf("IsSecret(%q) = false", name)
		}
	}
	for _, name := range []string{"user", "username", "sslmode", "tls-key", "sslkey", "key", "slot", "topic", "passive", "compression"} {
		if IsSecret(name) {
			t.Errorf("IsSecret(%q) = true", name)
		}
	}
}

func TestRedactError(t *testing.T) {
	base := errors.New("inner")
	raw := "postgres://u:p%2Fw0rd@db/x?sslpassword=k%20ey"
	err := fmt.Errorf("connect to %s as p/w0rd with k ey and k%%20ey and p%%2Fw0rd: %w", raw, base)
	got := RedactError(err, raw)
	for _, leak := range []string{"p/w0rd", "p%2Fw0rd", "k ey", "k%20ey"} {
		if strings.Contains(got.Error(), leak) {
			t.Errorf("%q leaks %q", got.Error(), leak)
		}
	}
	if !errors.Is(got, base) {
		t.Error("RedactError lost the wrapped error")
	}
	plain := errors.New("nothing secret")
	if RedactError(plain, raw) != plain {
		t.Error("an error without secrets should come back unchanged")
	}
	if RedactError(nil, raw) != nil {
		t.Error("nil error")
	}
}

func TestSecretsLongestFirst(t *testing.T) {
	// One secret contains the other: the longer is masked whole.
	got := RedactText("a=abc b=abcdef", "x://u:abc@h/?token=abcdef")
	if got != "a=*** b=***" {
		t.Errorf("got %q", got)
	}
}
