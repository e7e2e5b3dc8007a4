package readmodeltest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Capability is a server feature that some contract cases, or parts of
// them, need. A backend under test declares the ones it lacks (Target);
// the suite then does not run what needs them, says why in the case's
// skip or log message, and lists it in Summary. It never skips in silence.
type Capability string

const (
	// Transactions: Commit is all or nothing, and a query reads one
	// snapshot. Without them (a MongoDB standalone, FerretDB, or a store
	// forced to position guards) the all-or-nothing assertions are
	// replaced by the position-guard ones. A store whose Info reports no
	// transactions lacks this whether or not the target declares it.
	Transactions Capability = "transactions"
	// PartialIndexes: a unique index ignores documents that lack one of
	// its fields, and an index declared Partial holds only the documents
	// that have its field (MongoDB's partialFilterExpression).
	PartialIndexes Capability = "partial indexes"
	// TTLIndexes: an index declared with a TTL expires documents (the
	// server's TTL monitor, or SweepExpired).
	TTLIndexes Capability = "TTL indexes"
	// RenameOverTarget: renaming a collection over an existing one
	// (MongoDB's renameCollection with dropTarget), which rebuild
	// cut-overs (RenameCollections, Swap with renames) need.
	RenameOverTarget Capability = "renameCollection with dropTarget"
	// DuplicateKeyDetails: a unique-index violation is reported as a
	// duplicate-key error (MongoDB's E11000) naming the index, also when
	// an index is built over duplicates, so the store can return a
	// *readmodel.DuplicateError with the declared index name.
	DuplicateKeyDetails Capability = "duplicate-key errors naming the index"
)

// Target describes the backend under test.
type Target struct {
	// Name labels the backend in messages and in Summary, e.g.
	// "FerretDB 1.24 (smoke layer)". Empty: the test's name.
	Name string
	// Lacks lists the capabilities the backend does not have.
	Lacks []Capability
}

// runReport is what one Run did not check.
type runReport struct {
	test   string
	target Target

	mu         sync.Mutex
	started    int
	notRun     []string // "Case: why"
	notChecked []string // "Case: what (why)"
}

var (
	reportsMu sync.Mutex
	reports   []*runReport
)

func newRunReport(t *testing.T, target Target) *runReport {
	r := &runReport{test: t.Name(), target: target}
	reportsMu.Lock()
	reports = append(reports, r)
	reportsMu.Unlock()
	return r
}

// lacks reports whether the target lacks c.
func (r *runReport) lacks(c Capability) bool { return slices.Contains(r.target.Lacks, c) }

func (r *runReport) add(list *[]string, s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !slices.Contains(*list, s) {
		*list = append(*list, s)
	}
}

// Summary returns, for each Run of the test binary so far, one line saying
// how many cases ran and, on the lines after it, each case not run and each
// part of a case not checked, with the capability it needs. Call it after
// m.Run in TestMain and print it: go test shows a test's log only with -v
// or on failure, and these lines say what a green run did not prove.
func Summary() []string {
	reportsMu.Lock()
	defer reportsMu.Unlock()
	var out []string
	for _, r := range reports {
		r.mu.Lock()
		name := r.target.Name
		if name == "" {
			name = r.test
		}
		notRun, notChecked := slices.Clone(r.notRun), slices.Clone(r.notChecked)
		started := r.started
		r.mu.Unlock()
		slices.Sort(notRun)
		slices.Sort(notChecked)
		line := fmt.Sprintf("readmodeltest: %s on %s: %d cases ran, %d not run", r.test, name, started-len(notRun), len(notRun))
		if len(r.target.Lacks) > 0 {
			lacks := make([]string, len(r.target.Lacks))
			for i, c := range r.target.Lacks {
				lacks[i] = string(c)
			}
			line += "; the server lacks: " + strings.Join(lacks, ", ")
		}
		out = append(out, line)
		for _, s := range notRun {
			out = append(out, "readmodeltest:   NOT RUN      "+s)
		}
		for _, s := range notChecked {
			out = append(out, "readmodeltest:   NOT CHECKED  "+s)
		}
	}
	return out
}

// caseName is the contract case of a subtest: the last element of its name.
func caseName(t *testing.T) string {
	n := t.Name()
	return n[strings.LastIndexByte(n, '/')+1:]
}

// need skips the case unless the target has c, saying why.
func (e *env) need(c Capability) {
	e.t.Helper()
	if !e.lacks(c) {
		return
	}
	e.report.add(&e.report.notRun, fmt.Sprintf("%s: needs %s", caseName(e.t), c))
	e.t.Skipf("NOT RUN on this server: the case needs %s, which the backend under test lacks", c)
}

// has reports whether the target has c; if not, it records (and logs)
// that what was not checked, because it needs c.
func (e *env) has(c Capability, what string) bool {
	e.t.Helper()
	if !e.lacks(c) {
		return true
	}
	msg := fmt.Sprintf("%s: %s (needs %s)", caseName(e.t), what, c)
	if c == Transactions {
		msg += "; the position-guard assertions ran instead"
	}
	e.report.add(&e.report.notChecked, msg)
	e.t.Logf("NOT CHECKED on this server: %s (needs %s)", what, c)
	return false
}

func (e *env) lacks(c Capability) bool {
	if c == Transactions && !e.info.Transactions {
		return true
	}
	return e.report.lacks(c)
}
