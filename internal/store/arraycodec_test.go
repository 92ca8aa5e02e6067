package store

import (
	"bytes"
	"math"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"
)

// The fast encoders must write exactly what pgx writes for the same slice,
// NULL for nil included, and refuse what pgx refuses.
func TestArrayCodecsMatchPgx(t *testing.T) {
	plain := pgtype.NewMap()
	fast := pgtype.NewMap()
	registerArrayCodecs(fast)
	registerArrayCodecs(fast) // twice is harmless
	if _, ok := fast.PlanEncode(pgtype.Float8ArrayOID, pgtype.BinaryFormatCode, float8s{1}).(encodeFloat8s); !ok {
		t.Error("float8s does not take the fast encoder")
	}
	if _, ok := fast.PlanEncode(pgtype.Int4ArrayOID, pgtype.BinaryFormatCode, int4s{1}).(encodeInt4s); !ok {
		t.Error("int4s does not take the fast encoder")
	}
	floats := [][]float64{nil, {}, {0}, {1.5, -2.25, math.Inf(1), math.Inf(-1), math.Copysign(0, -1), math.MaxFloat64, math.SmallestNonzeroFloat64}}
	for _, a := range floats {
		want, err := plain.Encode(pgtype.Float8ArrayOID, pgtype.BinaryFormatCode, a, []byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := fast.Encode(pgtype.Float8ArrayOID, pgtype.BinaryFormatCode, float8s(a), []byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) || (got == nil) != (want == nil) {
			t.Errorf("float8[] %v: got %x, want %x", a, got, want)
		}
	}
	nan, err := fast.Encode(pgtype.Float8ArrayOID, pgtype.BinaryFormatCode, float8s{math.NaN()}, nil)
	if err != nil || len(nan) != 20+12 || math.Float64frombits(uint64(nan[24])<<56|uint64(nan[25])<<48|uint64(nan[26])<<40|uint64(nan[27])<<32|
		uint64(nan[28])<<24|uint64(nan[29])<<16|uint64(nan[30])<<8|uint64(nan[31])) == 0 {
		t.Errorf("NaN: %x, %v", nan, err)
	}
	ints := [][]int{nil, {}, {0}, {1, -1, math.MaxInt32, math.MinInt32, 70000}}
	for _, a := range ints {
		want, err := plain.Encode(pgtype.Int4ArrayOID, pgtype.BinaryFormatCode, a, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := fast.Encode(pgtype.Int4ArrayOID, pgtype.BinaryFormatCode, int4s(a), nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) || (got == nil) != (want == nil) {
			t.Errorf("int4[] %v: got %x, want %x", a, got, want)
		}
	}
	for _, v := range []int{math.MaxInt32 + 1, math.MinInt32 - 1} {
		if _, err := plain.Encode(pgtype.Int4ArrayOID, pgtype.BinaryFormatCode, []int{v}, nil); err == nil {
			t.Fatalf("pgx took %d as an int4", v)
		}
		if _, err := fast.Encode(pgtype.Int4ArrayOID, pgtype.BinaryFormatCode, int4s{v}, nil); err == nil {
			t.Errorf("int4s took %d", v)
		}
	}
	// Text format, and the named types on a map without the fast codecs,
	// still encode through pgx.
	for _, m := range []*pgtype.Map{plain, fast} {
		got, err := m.Encode(pgtype.Float8ArrayOID, pgtype.TextFormatCode, float8s{1.5, 2}, nil)
		if err != nil || string(got) != "{1.5,2}" {
			t.Errorf("text float8[]: %q, %v", got, err)
		}
		got, err = m.Encode(pgtype.Int4ArrayOID, pgtype.BinaryFormatCode, int4s{3}, nil)
		want, _ := plain.Encode(pgtype.Int4ArrayOID, pgtype.BinaryFormatCode, []int{3}, nil)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("int4s through pgx: %x, %v", got, err)
		}
	}
}
