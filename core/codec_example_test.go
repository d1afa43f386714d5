package core_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/sessionkit/sessionkit/core"
)

func ExampleBinaryCodec() {
	var codec core.BinaryCodec
	created := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	data, err := codec.Encode(created, map[string]any{
		"user_id": 42,
		"name":    "Ada",
		"roles":   []string{"admin", "editor"},
		"admin":   true,
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	created, values, err := codec.Decode(data)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(created.Format(time.RFC3339))
	fmt.Printf("%T %v\n", values["user_id"], values["user_id"])
	fmt.Printf("%T %v\n", values["roles"], values["roles"])

	// Foreign or damaged data is an error wrapping core.ErrCorrupt.
	_, _, err = codec.Decode([]byte(`{"not":"a session"}`))
	fmt.Println(errors.Is(err, core.ErrCorrupt))
	// Output:
	// 2024-05-01T12:00:00Z
	// int 42
	// []string [admin editor]
	// true
}

func ExampleJSONCodec() {
	var codec core.JSONCodec
	data, err := codec.Encode(time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC), map[string]any{"user_id": 42})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(data))

	_, values, err := codec.Decode(data)
	if err != nil {
		fmt.Println(err)
		return
	}
	// JSON numbers come back as float64.
	fmt.Printf("%T %v\n", values["user_id"], values["user_id"])
	// Output:
	// {"created":"2024-05-01T12:00:00Z","values":{"user_id":42}}
	// float64 42
}
