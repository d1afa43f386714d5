package core

import (
	"encoding/json"
	"fmt"
	"time"
)

// JSONCodec is a Codec for records that programs in other languages read or
// write. A record is one JSON object:
//
//	{"created":"2024-05-01T12:00:00.123456789Z","values":{"user":"ada","n":3}}
//
// with the creation time in RFC 3339 format (nanosecond precision and the
// zone offset kept) and the values encoded by encoding/json. The zero value
// is ready to use and it is safe for concurrent use.
//
// JSON does not keep Go types. Values decode as JSON types: every number as
// float64, objects as map[string]any, arrays as []any, and []byte and
// time.Time as the strings encoding/json writes for them (base64 and
// RFC 3339). Numbers beyond 2^53 lose precision. Use [Value] to read a
// number back as an int; prefer BinaryCodec when only Go reads the records.
// Encode fails on values encoding/json rejects, such as channels, functions,
// NaN or infinite floats, and times outside years 0 to 9999, and on a key
// or string that is not valid UTF-8 (which encoding/json would silently
// turn into U+FFFD, merging keys): the error names the key, never the
// value, and the commit fails instead of changing the data.
//
// Decode accepts only data that starts with '{', rejects JSON nested more
// than 64 levels deep before parsing it, and reports every failure as an
// error wrapping ErrCorrupt. Unknown fields are ignored, and a missing or
// null "values" decodes as an empty map.
type JSONCodec struct{}

var _ Codec = JSONCodec{}

// jsonMaxDepth bounds the nesting of objects and arrays in a record,
// counting the record object itself as the first level.
const jsonMaxDepth = 64

// jsonRecord is the shape of an encoded record.
type jsonRecord struct {
	Created time.Time      `json:"created"`
	Values  map[string]any `json:"values"`
}

// jsonNoValues is encoded for a nil map so that readers always find an
// object. It is never modified.
var jsonNoValues = map[string]any{}

// Encode implements Codec.
func (JSONCodec) Encode(created time.Time, values map[string]any) ([]byte, error) {
	if values == nil {
		values = jsonNoValues
	}
	if err := jsonCheckUTF8(values); err != nil {
		return nil, err
	}
	b, err := json.Marshal(jsonRecord{Created: created, Values: values})
	if err != nil {
		return nil, fmt.Errorf("sessionkit: json codec: encode: %w", err)
	}
	return b, nil
}

var (
	errJSONNotObject = fmt.Errorf("%w: json codec: not a JSON object", ErrCorrupt)
	errJSONDepth     = fmt.Errorf("%w: json codec: nesting deeper than %d levels", ErrCorrupt, jsonMaxDepth)
)

// Decode implements Codec.
func (JSONCodec) Decode(data []byte) (created time.Time, values map[string]any, err error) {
	if len(data) == 0 || data[0] != '{' {
		return time.Time{}, nil, errJSONNotObject
	}
	if !jsonDepthOK(data, jsonMaxDepth) {
		return time.Time{}, nil, errJSONDepth
	}
	var rec jsonRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return time.Time{}, nil, fmt.Errorf("%w: json codec: %w", ErrCorrupt, err)
	}
	if rec.Values == nil {
		rec.Values = make(map[string]any)
	}
	return rec.Created, rec.Values, nil
}

// jsonDepthOK reports whether the objects and arrays in data nest at most
// limit levels deep. It skips the contents of strings and does not otherwise
// validate data: that is left to encoding/json.
func jsonDepthOK(data []byte, limit int) bool {
	depth := 0
	inString, escaped := false, false
	for _, c := range data {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			if depth > limit {
				return false
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return true
}
