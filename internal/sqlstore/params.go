package sqlstore

import (
	"fmt"
	"strings"
)

// queryID names one of the store's statements.
type queryID int

const (
	qLoad queryID = iota
	qSave
	qDelete
	qDeleteLive
	qCASInsert
	qCASUpdate
	qLiveExists
	qTouch
	qIterate
	qDeleteExpired
	qCASInsertUser
	qCASUpdateUser
	qUserKeys
	qRenew
	numQueries
)

// param is one named parameter of a statement.
type param int

const (
	pKey param = iota
	pData
	pExpiry
	pVersion
	pNewVersion
	pNow
	pAfter
	pUser
	pUntil
	pOldKey
	pOldVersion
	pRetired
	pRetiredExpiry
)

// paramNames maps the names statements use to parameters. Longer names
// come first where one is a prefix of another.
var paramNames = []struct {
	name string
	p    param
}{
	{":key", pKey},
	{":data", pData},
	{":expiry", pExpiry},
	{":newversion", pNewVersion},
	{":version", pVersion},
	{":now", pNow},
	{":after", pAfter},
	{":user", pUser},
	{":until", pUntil},
	{":oldkey", pOldKey},
	{":oldversion", pOldVersion},
	{":retiredexpiry", pRetiredExpiry},
	{":retired", pRetired},
}

// args are the values of the named parameters for one execution.
type args struct {
	key, after                  string
	data                        []byte
	expiry, version, newVersion int64
	now                         int64
	// user and until are the filing's columns: nil (NULL) for no user,
	// else the user's hash (string) and until (int64 microseconds).
	user, until any
	// The old row of a renew: its key and version, and the retired
	// marker that replaces it.
	oldKey        string
	oldVersion    int64
	retired       []byte
	retiredExpiry int64
}

// query is a statement with its named parameters replaced by ?
// placeholders, and the parameter behind each placeholder.
type query struct {
	text  string
	order []param
}

// compile turns the named parameters of text into ? placeholders.
func compile(text string) (query, error) {
	if text == "" {
		return query{}, fmt.Errorf("empty statement")
	}
	var b strings.Builder
	var q query
	for i := 0; i < len(text); {
		if text[i] != ':' {
			b.WriteByte(text[i])
			i++
			continue
		}
		matched := false
		for _, n := range paramNames {
			if strings.HasPrefix(text[i:], n.name) && !identByte(text, i+len(n.name)) {
				b.WriteByte('?')
				q.order = append(q.order, n.p)
				i += len(n.name)
				matched = true
				break
			}
		}
		if !matched {
			return query{}, fmt.Errorf("unknown parameter at %q", text[i:min(len(text), i+12)])
		}
	}
	q.text = b.String()
	return q, nil
}

// identByte reports whether text[i] exists and could continue a name.
func identByte(text string, i int) bool {
	if i >= len(text) {
		return false
	}
	c := text[i]
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// args returns the positional arguments of q for a.
func (q query) args(a *args) []any {
	out := make([]any, len(q.order))
	for i, p := range q.order {
		switch p {
		case pKey:
			out[i] = a.key
		case pData:
			out[i] = a.data
		case pExpiry:
			out[i] = a.expiry
		case pVersion:
			out[i] = a.version
		case pNewVersion:
			out[i] = a.newVersion
		case pNow:
			out[i] = a.now
		case pAfter:
			out[i] = a.after
		case pUser:
			out[i] = a.user
		case pUntil:
			out[i] = a.until
		case pOldKey:
			out[i] = a.oldKey
		case pOldVersion:
			out[i] = a.oldVersion
		case pRetired:
			out[i] = a.retired
		case pRetiredExpiry:
			out[i] = a.retiredExpiry
		}
	}
	return out
}
