package directory

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sync"
)

// Hooks for the query-plan regression test (scale_test.go).

// RecordedQuery is one statement a store sent, with its arguments.
type RecordedQuery struct {
	SQL  string
	Args []any
}

// Recorder collects the statements of a RecordingView.
type Recorder struct {
	mu sync.Mutex
	qs []RecordedQuery
}

// Take returns the statements recorded since the last Take.
func (r *Recorder) Take() []RecordedQuery {
	r.mu.Lock()
	defer r.mu.Unlock()
	qs := r.qs
	r.qs = nil
	return qs
}

func (r *Recorder) add(q string, args []any) {
	r.mu.Lock()
	r.qs = append(r.qs, RecordedQuery{SQL: q, Args: args})
	r.mu.Unlock()
}

type recordingQuerier struct {
	q   querier
	rec *Recorder
}

func (r recordingQuerier) exec(ctx context.Context, q string, args ...any) (int64, error) {
	r.rec.add(q, args)
	return r.q.exec(ctx, q, args...)
}
func (r recordingQuerier) query(ctx context.Context, q string, args ...any) (rows, error) {
	r.rec.add(q, args)
	return r.q.query(ctx, q, args...)
}
func (r recordingQuerier) queryRow(ctx context.Context, q string, args ...any) row {
	r.rec.add(q, args)
	return r.q.queryRow(ctx, q, args...)
}

type recordingDB struct {
	recordingQuerier
	db database
}

func (r recordingDB) inTx(ctx context.Context, fn func(q querier) error) error {
	return r.db.inTx(ctx, func(q querier) error { return fn(recordingQuerier{q: q, rec: r.rec}) })
}
func (r recordingDB) ping(ctx context.Context) error { return r.db.ping(ctx) }
func (r recordingDB) close()                         {}

// RecordingView returns a store on s's database that records every
// statement it sends; it has no lookup cache, so every lookup reaches the
// database. release stops its background loop (s stays open).
func RecordingView(s *SQLStore) (v *SQLStore, rec *Recorder, release func()) {
	rec = &Recorder{}
	v = newSQLStore(recordingDB{recordingQuerier: recordingQuerier{q: s.db, rec: rec}, db: s.db}, s.backend, s.log)
	v.pg = s.pg
	return v, rec, func() { close(v.stop); v.done.Wait() }
}

// PlanNode is one node of a plan: Detail as the engine writes it, and
// Whole when it reads Table whole (a sequential scan, or an index scan whose
// condition does not constrain the index's leading column; SQLite's SCAN).
type PlanNode struct {
	Detail string
	Table  string
	Whole  bool
}

// ExplainQuery returns the plan the database chooses for q; on PostgreSQL
// with sequential scans disabled, so that a Seq Scan left in the plan means
// that no index can serve it.
func ExplainQuery(ctx context.Context, s *SQLStore, q RecordedQuery) ([]PlanNode, error) {
	if s.pg != nil {
		// With sequential scans priced out, the plan shows whether an index
		// can serve the statement at all, whatever the tables' sizes now.
		var js []byte
		err := s.db.inTx(ctx, func(tx querier) error {
			if _, err := tx.exec(ctx, `SET LOCAL enable_seqscan = off`); err != nil {
				return err
			}
			return tx.queryRow(ctx, `EXPLAIN (FORMAT JSON) `+q.SQL, q.Args...).Scan(&js)
		})
		if err != nil {
			return nil, fmt.Errorf("explain %q: %w", q.SQL, err)
		}
		var plans []struct{ Plan pgPlan }
		if err := json.Unmarshal(js, &plans); err != nil {
			return nil, err
		}
		var out []PlanNode
		var walk func(p pgPlan) error
		walk = func(p pgPlan) error {
			n := PlanNode{Detail: p.NodeType, Table: p.Relation}
			if p.Relation != "" {
				n.Detail += " on " + p.Relation
			}
			switch {
			case p.NodeType == "Seq Scan":
				n.Whole = true
			case p.Index != "":
				n.Detail += " using " + p.Index + " " + p.Cond
				var lead, table string
				err := s.db.queryRow(ctx, `SELECT a.attname, t.relname FROM pg_index i
					JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
					JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
					WHERE c.relname = $1 AND c.relnamespace = current_schema()::regnamespace`, p.Index).Scan(&lead, &table)
				if err != nil {
					return fmt.Errorf("index %s: %w", p.Index, err)
				}
				n.Table = table
				n.Whole = !regexp.MustCompile(`\b` + lead + `\b`).MatchString(p.Cond)
			}
			out = append(out, n)
			for _, c := range p.Plans {
				if err := walk(c); err != nil {
					return err
				}
			}
			return nil
		}
		for _, p := range plans {
			if err := walk(p.Plan); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	r, err := s.db.query(ctx, `EXPLAIN QUERY PLAN `+q.SQL, q.Args...)
	if err != nil {
		return nil, fmt.Errorf("explain %q: %w", q.SQL, err)
	}
	defer r.Close()
	var out []PlanNode
	scan := regexp.MustCompile(`^(SCAN|SEARCH) (\w+)`)
	for r.Next() {
		var id, parent, notused int
		var detail string
		if err := r.Scan(&id, &parent, &notused, &detail); err != nil {
			return nil, err
		}
		n := PlanNode{Detail: detail}
		if m := scan.FindStringSubmatch(detail); m != nil {
			n.Table, n.Whole = aliasTable(q.SQL, m[2]), m[1] == "SCAN"
		}
		out = append(out, n)
	}
	return out, r.Err()
}

// aliasTable resolves an alias of sql (FROM users u) to its table.
func aliasTable(sql, alias string) string {
	m := regexp.MustCompile(`(?:FROM|JOIN)\s+(\w+)\s+` + regexp.QuoteMeta(alias) + `\b`).FindStringSubmatch(sql)
	if m == nil {
		return alias
	}
	return m[1]
}

type pgPlan struct {
	NodeType string   `json:"Node Type"`
	Relation string   `json:"Relation Name"`
	Index    string   `json:"Index Name"`
	Cond     string   `json:"Index Cond"`
	Plans    []pgPlan `json:"Plans"`
}
