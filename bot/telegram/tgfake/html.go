package tgfake

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
)

// Entity is a formatting entity as Telegram returns it: offsets and
// lengths in UTF-16 code units.
type Entity struct {
	Type   string `json:"type"`
	Offset int    `json:"offset"`
	Length int    `json:"length"`
	URL    string `json:"url,omitempty"`
}

// htmlTags are the tags of the Bot API's HTML parse mode, by entity type.
var htmlTags = map[string]string{
	"b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline", "ins": "underline",
	"s": "strikethrough", "strike": "strikethrough", "del": "strikethrough", "code": "code", "pre": "pre",
	"a": "text_link", "tg-spoiler": "spoiler", "span": "spoiler", "blockquote": "blockquote", "tg-emoji": "custom_emoji",
}

// ParseHTML reads text in the Bot API's HTML parse mode as Telegram does:
// the message keeps the text without tags, and the tags become entities.
// Unsupported tags, unclosed tags and a bare "<" are refused with the
// answer Telegram gives ("can't parse entities").
func ParseHTML(s string) (string, []Entity, error) {
	var out strings.Builder
	var ents []Entity
	var stack []openTag
	units := 0 // UTF-16 length of out
	write := func(t string) {
		out.WriteString(t)
		units += len(utf16.Encode([]rune(t)))
	}
	for i := 0; i < len(s); {
		switch s[i] {
		case '<':
			end := strings.IndexByte(s[i:], '>')
			if end < 0 {
				return "", nil, fmt.Errorf("can't parse entities: Unclosed start tag at byte offset %d", i)
			}
			tag := s[i+1 : i+end]
			if name, ok := strings.CutPrefix(tag, "/"); ok {
				name = strings.TrimSpace(name)
				if len(stack) == 0 || stack[len(stack)-1].tag != name {
					return "", nil, fmt.Errorf("can't parse entities: Unmatched end tag at byte offset %d, expected \"</%s>\", found \"</%s>\"", i, top(stack), name)
				}
				o := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				if units > o.at {
					ents = append(ents, Entity{Type: htmlTags[o.tag], Offset: o.at, Length: units - o.at, URL: o.url})
				}
			} else {
				name, attrs, _ := strings.Cut(tag, " ")
				if _, ok := htmlTags[name]; !ok || name == "" {
					return "", nil, fmt.Errorf("can't parse entities: Unsupported start tag \"%s\" at byte offset %d", name, i)
				}
				o := openTag{tag: name, at: units}
				if name == "a" {
					href, ok := strings.CutPrefix(strings.TrimSpace(attrs), `href="`)
					if !ok || !strings.HasSuffix(href, `"`) {
						return "", nil, fmt.Errorf("can't parse entities: Expected href in the start tag \"a\" at byte offset %d", i)
					}
					u, err := unescape(strings.TrimSuffix(href, `"`))
					if err != nil {
						return "", nil, err
					}
					o.url = u
				}
				stack = append(stack, o)
			}
			i += end + 1
		case '&':
			end := strings.IndexByte(s[i:], ';')
			if end < 0 {
				write("&")
				i++
				continue
			}
			r, err := unescape(s[i : i+end+1])
			if err != nil {
				// An unknown entity is text, as Telegram reads it.
				write("&")
				i++
				continue
			}
			write(r)
			i += end + 1
		default:
			j := i
			for j < len(s) && s[j] != '<' && s[j] != '&' {
				j++
			}
			write(s[i:j])
			i = j
		}
	}
	if len(stack) > 0 {
		return "", nil, fmt.Errorf("can't parse entities: Can't find end tag corresponding to start tag \"%s\"", top(stack))
	}
	return out.String(), ents, nil
}

type openTag struct {
	tag string
	at  int
	url string
}

func top(stack []openTag) string {
	if len(stack) == 0 {
		return ""
	}
	return stack[len(stack)-1].tag
}

// unescape reads the entities the Bot API knows: the four named ones and
// numeric ones.
func unescape(s string) (string, error) {
	var b strings.Builder
	for s != "" {
		i := strings.IndexByte(s, '&')
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		s = s[i:]
		end := strings.IndexByte(s, ';')
		if end < 0 {
			return "", fmt.Errorf("can't parse entities: bad entity")
		}
		name := s[1:end]
		switch {
		case name == "lt":
			b.WriteByte('<')
		case name == "gt":
			b.WriteByte('>')
		case name == "amp":
			b.WriteByte('&')
		case name == "quot":
			b.WriteByte('"')
		case strings.HasPrefix(name, "#x"):
			n, err := strconv.ParseInt(name[2:], 16, 32)
			if err != nil {
				return "", fmt.Errorf("can't parse entities: bad entity")
			}
			b.WriteRune(rune(n))
		case strings.HasPrefix(name, "#"):
			n, err := strconv.Atoi(name[1:])
			if err != nil {
				return "", fmt.Errorf("can't parse entities: bad entity")
			}
			b.WriteRune(rune(n))
		default:
			return "", fmt.Errorf("can't parse entities: unknown entity &%s;", name)
		}
		s = s[end+1:]
	}
	return b.String(), nil
}
