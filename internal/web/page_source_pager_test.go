package web_test

import (
	"strconv"
	"strings"
	"testing"

	"saex/internal/web/webtest"
	"saex/templates"
)

// Issue 11 gaps: the source browser numbers its pages with first and last
// links, and shows the whole source's density histogram.
func TestSourcePagerAndDensity(t *testing.T) {
	env := webtest.New(t, nil)
	base := templates.SourceURL(webtest.TestModel, webtest.TestSource)
	st, b := get(t, env.URL+base+"?page=2")
	wantStatus(t, "page 2", st, 200, b)
	doc := parseHTML(t, b)
	var nums []string
	for _, a := range findAll(doc, byClass("page-num")) {
		nums = append(nums, text(a)+"="+attr(a, "href"))
	}
	if strings.Join(nums, " ") != "1="+base+" 3="+base+"?page=3" {
		t.Errorf("page links %q", nums)
	}
	if cur := findAll(doc, byClass("current")); len(cur) != 1 || text(cur[0]) != "2" {
		t.Error("current page not marked")
	}
	if f, l := findAll(doc, byClass("first")), findAll(doc, byClass("last")); len(f) != 1 || len(l) != 1 || attr(l[0], "href") != base+"?page=3" {
		t.Error("no first/last links")
	}
	// 60 synthetic features, one dead: 59 in the histogram's bars.
	sec := findAll(doc, byClass("source-density"))
	if len(sec) != 1 {
		t.Fatal("no density histogram on the source page")
	}
	total := 0
	for _, r := range findAll(sec[0], byTag("rect")) {
		title := text(r)
		n, err := strconv.Atoi(strings.TrimSuffix(title[strings.LastIndex(title, ": ")+2:], " features"))
		if err != nil {
			t.Fatalf("bar title %q", title)
		}
		total += n
	}
	if total != 58 || !strings.Contains(text(sec[0]), "2 features that never fired") {
		// 59 is dead and 0 has density 0: neither is drawn
		t.Errorf("histogram holds %d features (want 58 with density > 0), text %q", total, text(sec[0]))
	}
}
