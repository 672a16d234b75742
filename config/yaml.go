package config

import (
	"fmt"
	"slices"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// node is the part of a YAML node the loader needs: its kind, line, text
// (scalars) and key/value pairs in file order (mappings).
type node struct {
	kind  nodeKind
	line  int
	text  string
	tag   string
	pairs []*pair
}

type nodeKind int

const (
	scalarNode nodeKind = iota
	mappingNode
	sequenceNode
	nullNode
)

func (k nodeKind) String() string {
	switch k {
	case mappingNode:
		return "a mapping"
	case sequenceNode:
		return "a list"
	case nullNode:
		return "nothing"
	}
	return "a value"
}

// pair is one key: value of a mapping.
type pair struct {
	key, value *node
}

// parseYAML parses one YAML document into nodes. Anchors and aliases are
// resolved; merge keys are refused (they hide where a setting comes from).
func parseYAML(data []byte) (*node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, nil
	}
	return convert(doc.Content[0], 0)
}

func convert(n *yaml.Node, depth int) (*node, error) {
	if depth > 32 {
		return nil, fmt.Errorf("yaml: line %d: nested too deeply", n.Line)
	}
	if n.Kind == yaml.AliasNode {
		return convert(n.Alias, depth+1)
	}
	out := &node{line: n.Line, text: n.Value, tag: n.Tag}
	switch n.Kind {
	case yaml.ScalarNode:
		out.kind = scalarNode
		if n.Tag == "!!null" {
			out.kind = nullNode
		}
	case yaml.SequenceNode:
		out.kind = sequenceNode
	case yaml.MappingNode:
		out.kind = mappingNode
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, err := convert(n.Content[i], depth+1)
			if err != nil {
				return nil, err
			}
			if n.Content[i].Tag == "!!merge" {
				return nil, fmt.Errorf("yaml: line %d: merge keys (<<) are not supported: write each setting out", k.line)
			}
			v, err := convert(n.Content[i+1], depth+1)
			if err != nil {
				return nil, err
			}
			out.pairs = append(out.pairs, &pair{key: k, value: v})
		}
	default:
		return nil, fmt.Errorf("yaml: line %d: unexpected node", n.Line)
	}
	return out, nil
}

// mapping checks that n is a mapping whose keys are among known, each
// once, and returns its pairs by key (nil when n is not a mapping).
func (l *loader) mapping(n *node, at string, known ...string) map[string]*pair {
	if n.kind == nullNode {
		return map[string]*pair{}
	}
	if n.kind != mappingNode {
		l.fail(n, at, "want a mapping of settings, got %s", n.kind)
		return nil
	}
	m := make(map[string]*pair, len(n.pairs))
	for _, kv := range n.pairs {
		key := dotted(at, kv.key.text)
		if kv.key.kind != scalarNode {
			l.fail(kv.key, at, "keys are names, not %s", kv.key.kind)
			continue
		}
		if prev, dup := m[kv.key.text]; dup {
			l.fail(kv.key, key, "given twice (first at line %d)", prev.key.line)
			continue
		}
		if !slices.Contains(known, kv.key.text) {
			l.fail(kv.key, key, "unknown key (known: %s)", strings.Join(known, ", "))
			continue
		}
		m[kv.key.text] = kv
	}
	return m
}

func dotted(at, key string) string {
	if at == "" {
		return key
	}
	return at + "." + key
}

// str returns the text of a scalar setting with ${NAME} expanded.
func (l *loader) str(kv *pair, key string) (string, bool) {
	v := kv.value
	switch v.kind {
	case nullNode:
		return "", true
	case scalarNode:
	default:
		l.fail(v, key, "want a value, got %s", v.kind)
		return "", false
	}
	s, err := expand(v.text, l.opts.Getenv)
	if err != nil {
		l.fail(v, key, "%v", err)
		return "", false
	}
	return s, true
}

// boolean reads a true/false setting.
func (l *loader) boolean(kv *pair, key string) (bool, bool) {
	s, ok := l.str(kv, key)
	if !ok {
		return false, false
	}
	switch strings.ToLower(s) {
	case "true", "yes", "on":
		return true, true
	case "false", "no", "off", "":
		return false, true
	}
	l.fail(kv.value, key, "%q: want true or false", s)
	return false, false
}

// expand replaces ${NAME} with the variable's value; $${ is a literal ${.
// A missing variable is an error (an empty one is not): a secret left
// unset must not become an empty password silently.
func expand(s string, getenv func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		if i > 0 && s[i-1] == '$' {
			b.WriteString(s[:i-1])
			b.WriteString("${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", fmt.Errorf("unclosed ${ (write $${ for a literal ${)")
		}
		name := s[i+2 : i+end]
		if !validEnvName(name) {
			return "", fmt.Errorf("${%s}: want ${NAME} with letters, digits and '_'", name)
		}
		v, ok := getenv(name)
		if !ok {
			return "", fmt.Errorf("environment variable %s is not set", name)
		}
		b.WriteString(v)
		s = s[i+end+1:]
	}
}

func validEnvName(s string) bool {
	if s == "" || ('0' <= s[0] && s[0] <= '9') {
		return false
	}
	for _, r := range s {
		if !(r == '_' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
			return false
		}
	}
	return true
}
