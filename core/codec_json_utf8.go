package core

import (
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"
	"unicode/utf8"
)

// errJSONUTF8 is wrapped by the error Encode returns for invalid UTF-8,
// which encoding/json would silently replace with U+FFFD.
var errJSONUTF8 = errors.New("sessionkit: json codec: encode: invalid UTF-8")

// jsonCheckUTF8 returns an error naming the first key whose name or value
// holds a string that is not valid UTF-8. The value itself is never
// quoted: it may be secret.
func jsonCheckUTF8(values map[string]any) error {
	for k, v := range values {
		if !utf8.ValidString(k) {
			return fmt.Errorf("%w in key %q", errJSONUTF8, k)
		}
		if !jsonValidUTF8(reflect.ValueOf(v), 0) {
			return fmt.Errorf("%w in the value of key %q", errJSONUTF8, k)
		}
	}
	return nil
}

var (
	jsonMarshalerType = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
	timeType          = reflect.TypeFor[time.Time]()
)

// jsonValidUTF8 reports whether every string encoding/json would write for
// v is valid UTF-8. Types with their own MarshalJSON or MarshalText are
// trusted; []byte is written as base64.
func jsonValidUTF8(v reflect.Value, depth int) bool {
	if !v.IsValid() || !v.CanInterface() || depth > jsonMaxDepth {
		return true // nil, or deeper than a record may nest (Encode fails on cycles)
	}
	switch x := v.Interface(); x := x.(type) { // the common shapes without reflection
	case string:
		return utf8.ValidString(x)
	case []string:
		for _, s := range x {
			if !utf8.ValidString(s) {
				return false
			}
		}
		return true
	case bool, int, int64, float64, []byte, time.Time:
		return true
	}
	t := v.Type()
	if t != timeType && (t.Implements(jsonMarshalerType) || t.Implements(textMarshalerType)) {
		return true
	}
	switch v.Kind() {
	case reflect.String:
		return utf8.ValidString(v.String())
	case reflect.Pointer, reflect.Interface:
		return v.IsNil() || jsonValidUTF8(v.Elem(), depth+1)
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return true
		}
		for i := range v.Len() {
			if !jsonValidUTF8(v.Index(i), depth+1) {
				return false
			}
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			if !jsonValidUTF8(it.Key(), depth+1) || !jsonValidUTF8(it.Value(), depth+1) {
				return false
			}
		}
	case reflect.Struct:
		for i := range t.NumField() {
			if t.Field(i).IsExported() && !jsonValidUTF8(v.Field(i), depth+1) {
				return false
			}
		}
	}
	return true
}
