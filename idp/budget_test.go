package idp

import (
	"strconv"
	"testing"
	"time"
)

func TestSourceBudget(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	b := newSourceBudget(20, 3, 4, clock)
	for i := range 3 {
		if !b.allow("10.0.0.1") {
			t.Fatalf("start %d within the burst refused", i)
		}
	}
	if b.allow("10.0.0.1") {
		t.Fatal("a start past the burst was allowed")
	}
	if !b.allow("10.0.0.2") {
		t.Fatal("another source was refused: budgets are per source")
	}
	now = now.Add(3 * time.Second) // 20 a minute: one every 3 s
	if !b.allow("10.0.0.1") {
		t.Fatal("the budget did not refill")
	}
	if b.allow("10.0.0.1") {
		t.Fatal("refilled more than one start in 3 s")
	}

	t.Run("the table is bounded and forgets the source used least recently", func(t *testing.T) {
		for i := range 100 {
			b.allow("192.0.2." + strconv.Itoa(i))
			if b.size() > 4 {
				t.Fatalf("%d sources tracked, max 4", b.size())
			}
		}
		// 10.0.0.1 (empty bucket) was evicted long ago and starts afresh;
		// the most recent sources keep their state.
		b.allow("192.0.2.99")
		b.allow("192.0.2.99")
		if b.allow("192.0.2.99") || b.allow("192.0.2.99") {
			t.Fatal("a recently used source lost its state")
		}
	})
}
