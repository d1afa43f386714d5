package core

import (
	"math"
	"time"
)

// Value returns the value under key as a T, and whether it was there and
// of that type. Numbers are converted between Go's numeric types when the
// conversion is exact, so sessions decoded by JSONCodec (whose numbers come
// back as float64) read the same as those of BinaryCodec; so are []any of
// strings to []string, map[string]any of strings to map[string]string, and
// RFC 3339 strings to time.Time.
func Value[T any](s *Session, key string) (T, bool) {
	v, ok := s.Get(key)
	if !ok {
		var zero T
		return zero, false
	}
	return convert[T](v)
}

// PopValue is Value followed by Delete when the value was there and of type T.
func PopValue[T any](s *Session, key string) (T, bool) {
	s.lock()
	defer s.mu.Unlock()
	v, ok := s.get(key)
	if !ok {
		var zero T
		return zero, false
	}
	t, ok := convert[T](v)
	if ok {
		s.del(key)
	}
	return t, ok
}

func convert[T any](v any) (T, bool) {
	if t, ok := v.(T); ok {
		return t, true
	}
	var out T
	switch p := any(&out).(type) {
	case *int:
		return out, setInt(p, v, math.MinInt, math.MaxInt)
	case *int64:
		return out, setInt(p, v, math.MinInt64, math.MaxInt64)
	case *int32:
		return out, setInt(p, v, math.MinInt32, math.MaxInt32)
	case *uint:
		return out, setUint(p, v, math.MaxUint)
	case *uint64:
		return out, setUint(p, v, math.MaxUint64)
	case *uint32:
		return out, setUint(p, v, math.MaxUint32)
	case *float64:
		f, ok := toFloat(v)
		*p = f
		return out, ok
	case *[]string:
		list, ok := v.([]any)
		if !ok {
			return out, false
		}
		ss := make([]string, len(list))
		for i, e := range list {
			if ss[i], ok = e.(string); !ok {
				return out, false
			}
		}
		*p = ss
		return out, true
	case *map[string]string:
		mm, ok := v.(map[string]any)
		if !ok {
			return out, false
		}
		res := make(map[string]string, len(mm))
		for k, e := range mm {
			if res[k], ok = e.(string); !ok {
				return out, false
			}
		}
		*p = res
		return out, true
	case *time.Time:
		str, ok := v.(string)
		if !ok {
			return out, false
		}
		t, err := time.Parse(time.RFC3339Nano, str)
		*p = t
		return out, err == nil
	}
	return out, false
}

type signed interface{ ~int | ~int32 | ~int64 }

func setInt[I signed](p *I, v any, lo, hi int64) bool {
	switch n := v.(type) {
	case int:
		return fitInt(p, int64(n), lo, hi)
	case int8:
		return fitInt(p, int64(n), lo, hi)
	case int16:
		return fitInt(p, int64(n), lo, hi)
	case int32:
		return fitInt(p, int64(n), lo, hi)
	case int64:
		return fitInt(p, n, lo, hi)
	case uint8:
		return fitInt(p, int64(n), lo, hi)
	case uint16:
		return fitInt(p, int64(n), lo, hi)
	case uint32:
		return fitInt(p, int64(n), lo, hi)
	case uint, uint64:
		u, _ := toUint(n)
		if u > math.MaxInt64 {
			return false
		}
		return fitInt(p, int64(u), lo, hi)
	case float32, float64:
		f, _ := toFloat(n)
		if f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
			return false
		}
		return fitInt(p, int64(f), lo, hi)
	}
	return false
}

func fitInt[I signed](p *I, n, lo, hi int64) bool {
	if n < lo || n > hi {
		return false
	}
	*p = I(n)
	return true
}

type unsigned interface{ ~uint | ~uint32 | ~uint64 }

func setUint[U unsigned](p *U, v any, hi uint64) bool {
	u, ok := toUint(v)
	if !ok || u > hi {
		return false
	}
	*p = U(u)
	return true
}

func toUint(v any) (uint64, bool) {
	switch n := v.(type) {
	case uint:
		return uint64(n), true
	case uint8:
		return uint64(n), true
	case uint16:
		return uint64(n), true
	case uint32:
		return uint64(n), true
	case uint64:
		return n, true
	case int, int8, int16, int32, int64:
		var i int64
		if !setInt(&i, n, math.MinInt64, math.MaxInt64) || i < 0 {
			return 0, false
		}
		return uint64(i), true
	case float32, float64:
		f, _ := toFloat(n)
		if f != math.Trunc(f) || f < 0 || f >= 1<<64 {
			return 0, false
		}
		return uint64(f), true
	}
	return 0, false
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case int32:
		return float64(n), true
	case uint64:
		return float64(n), true
	}
	return 0, false
}
