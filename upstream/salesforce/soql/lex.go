package soql

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tString
	tNumber
	tDate
	tDateTime
	tTime
	tPunct
)

type token struct {
	kind tokKind
	text string // source text (strings with quotes)
	val  string // tString: decoded value
	pos  int    // byte offset in the query
}

// nLiterals are the date literals that take a ":n" argument.
var nLiterals = map[string]bool{
	"LAST_N_DAYS": true, "NEXT_N_DAYS": true,
	"LAST_N_WEEKS": true, "NEXT_N_WEEKS": true,
	"LAST_N_MONTHS": true, "NEXT_N_MONTHS": true,
	"LAST_N_YEARS": true, "NEXT_N_YEARS": true,
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }

// lex splits the query into tokens. Errors are MALFORMED_QUERY.
func lex(src string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		case isLetter(c):
			j := i + 1
			for j < len(src) && (isLetter(src[j]) || isDigit(src[j]) || src[j] == '.') {
				j++
			}
			// LAST_N_DAYS:5 is one token.
			if j < len(src) && src[j] == ':' && nLiterals[strings.ToUpper(src[i:j])] {
				k := j + 1
				for k < len(src) && isDigit(src[k]) {
					k++
				}
				if k == j+1 {
					return nil, malformed(src, j, fmt.Sprintf("unexpected token: '%s'", src[i:min(k+1, len(src))]))
				}
				j = k
			}
			toks = append(toks, token{kind: tIdent, text: src[i:j], pos: i})
			i = j
		case c == '\'':
			t, n, err := lexString(src, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, t)
			i += n
		case isDigit(c) || (c == '-' || c == '+' || c == '.') && i+1 < len(src) && (isDigit(src[i+1]) || src[i+1] == '.' && c != '.'):
			t, n, err := lexNumberOrDate(src, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, t)
			i += n
		case c == '!' || c == '<' || c == '>':
			n := 1
			if i+1 < len(src) && (src[i+1] == '=' || c == '<' && src[i+1] == '>') {
				n = 2
			}
			if c == '!' && n == 1 {
				return nil, malformed(src, i, "unexpected token: '!'")
			}
			toks = append(toks, token{kind: tPunct, text: src[i : i+n], pos: i})
			i += n
		case c == '=' || c == '(' || c == ')' || c == ',':
			toks = append(toks, token{kind: tPunct, text: src[i : i+1], pos: i})
			i++
		default:
			r, _ := utf8.DecodeRuneInString(src[i:])
			return nil, malformed(src, i, fmt.Sprintf("unexpected token: '%c'", r))
		}
	}
	toks = append(toks, token{kind: tEOF, text: "<EOF>", pos: len(src)})
	return toks, nil
}

// lexString reads a quoted string at src[i]; it returns the token and its
// length. Escapes are decoded in val, except \% and \_ which stay escaped
// there only for LIKE (see decodeString).
func lexString(src string, i int) (token, int, error) {
	j := i + 1
	for j < len(src) {
		switch src[j] {
		case '\\':
			j += 2
			continue
		case '\'':
			text := src[i : j+1]
			val, err := decodeString(src[i+1:j], false)
			if err != nil {
				return token{}, 0, malformed(src, i, fmt.Sprintf("Invalid string literal %s. %s", text, err.Error()))
			}
			return token{kind: tString, text: text, val: val, pos: i}, j + 1 - i, nil
		}
		j++
	}
	return token{}, 0, malformed(src, len(src), "mismatched character '<EOF>' expecting '''")
}

// decodeString decodes the backslash escapes of a string literal's body.
// With keepLike, \% and \_ are kept as two characters so a LIKE pattern can
// tell them from the % and _ wildcards.
func decodeString(body string, keepLike bool) (string, error) {
	if !strings.Contains(body, `\`) {
		return body, nil
	}
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		if i+1 >= len(body) {
			return "", badEscape(`\`)
		}
		i++
		switch e := body[i]; e {
		case '\'', '"', '\\':
			b.WriteByte(e)
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case '%', '_':
			if keepLike {
				b.WriteByte('\\')
			}
			b.WriteByte(e)
		default:
			r, _ := utf8.DecodeRuneInString(body[i:])
			return "", badEscape(`\` + string(r))
		}
	}
	return b.String(), nil
}

// badEscape is an invalid escape sequence in a string literal.
type badEscape string

func (b badEscape) Error() string {
	return fmt.Sprintf("Illegal character sequence '%s' in string literal.", string(b))
}

// lexNumberOrDate reads a number (optionally signed, optionally decimal), a
// date (YYYY-MM-DD) or a datetime (YYYY-MM-DDThh:mm:ss[.fff](Z|±hh[:]mm)).
func lexNumberOrDate(src string, i int) (token, int, error) {
	if n := matchDate(src[i:]); n > 0 {
		if n2 := matchDateTime(src[i:]); n2 > 0 {
			return token{kind: tDateTime, text: src[i : i+n2], pos: i}, n2, nil
		}
		if i+n < len(src) && (src[i+n] == 'T' || src[i+n] == 't') {
			return token{}, 0, malformed(src, i, fmt.Sprintf("line 1:%d no viable alternative at character '%s'", i, src[i:scanWord(src, i)]))
		}
		return token{kind: tDate, text: src[i : i+n], pos: i}, n, nil
	}
	if n := matchTimeOfDay(src[i:]); n > 0 {
		return token{kind: tTime, text: src[i : i+n], pos: i}, n, nil
	}
	j := i
	if src[j] == '-' || src[j] == '+' {
		j++
	}
	digits := 0
	for j < len(src) && isDigit(src[j]) {
		j++
		digits++
	}
	if j < len(src) && src[j] == '.' {
		j++
		for j < len(src) && isDigit(src[j]) {
			j++
			digits++
		}
	}
	// An exponent (1.5E7), as Salesforce renders large doubles in JSON.
	if digits > 0 && j+1 < len(src) && (src[j] == 'e' || src[j] == 'E') {
		k := j + 1
		if src[k] == '+' || src[k] == '-' {
			k++
		}
		if k < len(src) && isDigit(src[k]) {
			for k < len(src) && isDigit(src[k]) {
				k++
			}
			j = k
		}
	}
	if digits == 0 || j < len(src) && (isLetter(src[j]) || src[j] == '.') {
		return token{}, 0, malformed(src, i, fmt.Sprintf("unexpected token: '%s'", src[i:scanWord(src, i)]))
	}
	return token{kind: tNumber, text: src[i:j], pos: i}, j - i, nil
}

// scanWord returns the end of the run of non-space, non-punctuation bytes at i.
func scanWord(src string, i int) int {
	j := i + 1
	for j < len(src) && !strings.ContainsRune(" \t\r\n(),='", rune(src[j])) {
		j++
	}
	return j
}

// matchDate returns the length of a YYYY-MM-DD prefix of s, or 0.
func matchDate(s string) int {
	if len(s) < 10 {
		return 0
	}
	for k := 0; k < 10; k++ {
		if k == 4 || k == 7 {
			if s[k] != '-' {
				return 0
			}
		} else if !isDigit(s[k]) {
			return 0
		}
	}
	if len(s) > 10 && isDigit(s[10]) {
		return 0
	}
	return 10
}

// matchTimeOfDay returns the length of a time literal prefix of s
// (hh:mm:ss[.fff][Z], as time fields are written), or 0.
func matchTimeOfDay(s string) int {
	if len(s) < 8 || !isDigit(s[0]) || !isDigit(s[1]) || s[2] != ':' || !isDigit(s[3]) || !isDigit(s[4]) ||
		s[5] != ':' || !isDigit(s[6]) || !isDigit(s[7]) {
		return 0
	}
	j, ok := skipFraction(s, 8)
	if !ok {
		return 0
	}
	if j < len(s) && (s[j] == 'Z' || s[j] == 'z') {
		j++
	}
	if j < len(s) && (isLetter(s[j]) || isDigit(s[j]) || s[j] == ':' || s[j] == '.') {
		return 0
	}
	return j
}

// skipFraction skips an optional ".digits" at s[j:]; ok is false for a dot
// without digits.
func skipFraction(s string, j int) (int, bool) {
	if j >= len(s) || s[j] != '.' {
		return j, true
	}
	j++
	start := j
	for j < len(s) && isDigit(s[j]) {
		j++
	}
	return j, j > start
}

// matchDateTime returns the length of a datetime prefix of s, or 0:
// YYYY-MM-DDThh:mm:ss, optional fraction, then Z or ±hh:mm or ±hhmm.
func matchDateTime(s string) int {
	if matchDate(s) == 0 || len(s) < 20 || (s[10] != 'T' && s[10] != 't') {
		return 0
	}
	for k := 11; k < 19; k++ {
		if k == 13 || k == 16 {
			if s[k] != ':' {
				return 0
			}
		} else if !isDigit(s[k]) {
			return 0
		}
	}
	j, ok := skipFraction(s, 19)
	if !ok {
		return 0
	}
	if j >= len(s) {
		return 0
	}
	switch s[j] {
	case 'Z', 'z':
		j++
	case '+', '-':
		j++
		if j+2 > len(s) || !isDigit(s[j]) || !isDigit(s[j+1]) {
			return 0
		}
		j += 2
		if j < len(s) && s[j] == ':' {
			j++
		}
		if j+2 > len(s) || !isDigit(s[j]) || !isDigit(s[j+1]) {
			return 0
		}
		j += 2
	default:
		return 0
	}
	if j < len(s) && (isLetter(s[j]) || isDigit(s[j])) {
		return 0
	}
	return j
}

// malformed builds a MALFORMED_QUERY error pointing at byte offset pos, in
// Salesforce's layout: the query line, a caret, "ERROR at Row:r:Column:c",
// then the message.
func malformed(src string, pos int, msg string) *Error {
	if pos > len(src) {
		pos = len(src)
	}
	row := 1 + strings.Count(src[:pos], "\n")
	lineStart := strings.LastIndexByte(src[:pos], '\n') + 1
	lineEnd := strings.IndexByte(src[pos:], '\n')
	if lineEnd < 0 {
		lineEnd = len(src)
	} else {
		lineEnd += pos
	}
	col := utf8.RuneCountInString(src[lineStart:pos]) + 1
	return &Error{
		Code: CodeMalformedQuery,
		Message: fmt.Sprintf("\n%s\n%s^\nERROR at Row:%d:Column:%d\n%s",
			src[lineStart:lineEnd], strings.Repeat(" ", col-1), row, col, msg),
	}
}
