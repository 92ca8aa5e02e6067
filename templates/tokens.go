package templates

import (
	"context"
	"io"

	"github.com/a-h/templ"
)

// TokenRow renders the tokens of one text as spans inside <span
// class="toks">, each with its highlight class and its value on hover.
//
// It is written by hand rather than in templ syntax because a feature page
// holds thousands of tokens and the generated code spends a pooled buffer
// and a class-set map per element; the escaping is templ's all the same:
// token text and titles go through templ.EscapeString, and classes come
// from a fixed table.
func TokenRow(toks []TokenView) templ.Component {
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := io.WriteString(w, `<span class="toks">`); err != nil {
			return err
		}
		// Small writes to templ's buffered writer; concatenating would
		// allocate a string per token.
		var err error
		write := func(s string) {
			if err == nil {
				_, err = io.WriteString(w, s)
			}
		}
		for _, t := range toks {
			write("<span")
			if t.Class != "" {
				write(` class="`)
				write(t.Class)
				write(`"`)
			}
			if t.Title != "" {
				write(` title="`)
				write(templ.EscapeString(t.Title))
				write(`"`)
			}
			write(">")
			write(templ.EscapeString(t.Text))
			write("</span>")
		}
		if err != nil {
			return err
		}
		_, err = io.WriteString(w, "</span>")
		return err
	})
}
