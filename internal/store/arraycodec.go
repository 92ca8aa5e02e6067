package store

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/jackc/pgx/v5/pgtype"
)

// A feature row carries 15 float8[] and 4 int4[] columns. pgx encodes a
// []float64 through its generic array codec, which boxes every element in
// an interface (an allocation each) and plans its encoding: ~5 % of an
// import's CPU. Feature rows pass those columns as float8s and int4s
// instead, which the codecs below write in PostgreSQL's binary array
// format directly, byte for byte what pgx writes (TestArrayCodecsMatchPgx).
// Every other value, and every other format, goes to pgx's own codec.

// float8s is a []float64 bound for a float8[] column; nil is NULL.
type float8s []float64

// int4s is a []int bound for an int4[] column; nil is NULL, and a value
// outside int4 is an error, as in pgx.
type int4s []int

// fastArrayCodec is pgx's codec of an array type, except for the binary
// encoding of float8s or int4s.
type fastArrayCodec struct {
	pgtype.Codec
}

func (c fastArrayCodec) PlanEncode(m *pgtype.Map, oid uint32, format int16, value any) pgtype.EncodePlan {
	if format == pgtype.BinaryFormatCode {
		switch value.(type) {
		case float8s:
			if oid == pgtype.Float8ArrayOID {
				return encodeFloat8s{}
			}
		case int4s:
			if oid == pgtype.Int4ArrayOID {
				return encodeInt4s{}
			}
		}
	}
	return c.Codec.PlanEncode(m, oid, format, value)
}

// registerArrayCodecs wraps a connection's float8[] and int4[] codecs.
func registerArrayCodecs(m *pgtype.Map) {
	for _, oid := range []uint32{pgtype.Float8ArrayOID, pgtype.Int4ArrayOID} {
		t, ok := m.TypeForOID(oid)
		if !ok {
			continue // not in pgx's defaults: nothing to speed up
		}
		if _, done := t.Codec.(fastArrayCodec); done {
			continue
		}
		m.RegisterType(&pgtype.Type{Name: t.Name, OID: t.OID, Codec: fastArrayCodec{t.Codec}})
	}
}

// appendArrayHeader writes a one-dimensional array header without NULLs.
func appendArrayHeader(buf []byte, n int, elemOID uint32) []byte {
	buf = binary.BigEndian.AppendUint32(buf, 1) // dimensions
	buf = binary.BigEndian.AppendUint32(buf, 0) // has no NULL
	buf = binary.BigEndian.AppendUint32(buf, elemOID)
	buf = binary.BigEndian.AppendUint32(buf, uint32(n))
	return binary.BigEndian.AppendUint32(buf, 1) // lower bound
}

type encodeFloat8s struct{}

func (encodeFloat8s) Encode(value any, buf []byte) ([]byte, error) {
	a := value.(float8s)
	if a == nil {
		return nil, nil
	}
	if len(a) > math.MaxInt32 {
		return nil, fmt.Errorf("float8[] of %d elements is too long", len(a))
	}
	buf = appendArrayHeader(buf, len(a), pgtype.Float8OID)
	for _, v := range a {
		buf = binary.BigEndian.AppendUint32(buf, 8)
		buf = binary.BigEndian.AppendUint64(buf, math.Float64bits(v))
	}
	return buf, nil
}

type encodeInt4s struct{}

func (encodeInt4s) Encode(value any, buf []byte) ([]byte, error) {
	a := value.(int4s)
	if a == nil {
		return nil, nil
	}
	if len(a) > math.MaxInt32 {
		return nil, fmt.Errorf("int4[] of %d elements is too long", len(a))
	}
	buf = appendArrayHeader(buf, len(a), pgtype.Int4OID)
	for _, v := range a {
		if v < math.MinInt32 || v > math.MaxInt32 {
			return nil, fmt.Errorf("%d is out of range for int4", v)
		}
		buf = binary.BigEndian.AppendUint32(buf, 4)
		buf = binary.BigEndian.AppendUint32(buf, uint32(int32(v)))
	}
	return buf, nil
}
