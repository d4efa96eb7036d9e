package scope

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/datamap"
	"github.com/breachctl/breachctl/internal/sources"
	"github.com/breachctl/breachctl/internal/store"
)

// These run a scoping that ends early or finds nobody, each with a deadline:
// before the writer had one owner, a run that stopped the writer before its
// goroutine had started hung for ever on a nil channel. Run them many times
// and under the race detector:
//
//	go test ./internal/scope -run 'TestScopeEnds' -count 50 -race

func scopeMap(t *testing.T) (*datamap.Map, sources.Fields) {
	t.Helper()
	dm, err := datamap.Parse("map.yaml", []byte(testMap))
	if err != nil {
		t.Fatal(err)
	}
	sys, _ := dm.System("uploads")
	f := sources.FieldsFor(sys)
	f.FixedSystem = "uploads"
	return dm, f
}

// runWithin runs a scoping and fails the test if it has not returned in 20 s.
func runWithin(t *testing.T, st *store.Store, req Request) (Report, error) {
	t.Helper()
	type result struct {
		rep Report
		err error
	}
	done := make(chan result, 1)
	go func() {
		rep, err := Run(context.Background(), st, req, nil)
		done <- result{rep, err}
	}()
	select {
	case r := <-done:
		return r.rep, r.err
	case <-time.After(20 * time.Second):
		t.Fatal("scope did not return within 20 s")
		return Report{}, nil
	}
}

// failing emits n good rows, then fails as an unreadable input would.
type failing struct{ n int }

var errUnreadable = errors.New("unexpected EOF")

func (failing) Name() string { return "broken.csv" }

func (f failing) Read(ctx context.Context, emit func(sources.Record) error, _ func(sources.Rejection)) error {
	var src strings.Builder
	src.WriteString("id,email,name,locale,country,region,seen_at\n")
	for i := range f.n {
		fmt.Fprintf(&src, "u%d,user%d@example.com,P,en-US,DE,,2026-11-19T23:00:00Z\n", i, i)
	}
	_, fields := scopeMapNoT()
	if err := sources.CSV("broken.csv", strings.NewReader(src.String()), fields).Read(ctx, emit, func(sources.Rejection) {}); err != nil {
		return err
	}
	return errUnreadable
}

func scopeMapNoT() (*datamap.Map, sources.Fields) {
	dm, err := datamap.Parse("map.yaml", []byte(testMap))
	if err != nil {
		panic(err)
	}
	sys, _ := dm.System("uploads")
	f := sources.FieldsFor(sys)
	f.FixedSystem = "uploads"
	return dm, f
}

func TestScopeEndsOnAHeaderOnlyFile(t *testing.T) {
	dm, fields := scopeMap(t)
	st := openStore(t)
	rep, err := runWithin(t, st, Request{Map: dm, Systems: []string{"uploads"}, Window: window,
		Sources: []sources.Source{sources.CSV("affected.csv", strings.NewReader("id,email,name,locale,country,region,seen_at\n"), fields)}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.People != 0 || rep.Rejected != 0 || rep.SnapshotID == "" {
		t.Fatalf("report = %+v", rep)
	}
}

// smallBatches makes a few hundred rows span several batches.
func smallBatches(t *testing.T) {
	old := batchSize
	batchSize = 100
	t.Cleanup(func() { batchSize = old })
}

func TestScopeEndsWhenEveryRowIsRejected(t *testing.T) {
	smallBatches(t)
	dm, fields := scopeMap(t)
	st := openStore(t)
	var src strings.Builder
	src.WriteString("id,email,name,locale,country,region,seen_at\n")
	for i := range 2*batchSize + 5 { // more than two batches' worth of rows
		fmt.Fprintf(&src, "u%d,not-an-email,P,en-US,DE,,2026-11-19T23:00:00Z\n", i)
	}
	rep, err := runWithin(t, st, Request{Map: dm, Systems: []string{"uploads"}, Window: window,
		Sources: []sources.Source{sources.CSV("affected.csv", strings.NewReader(src.String()), fields)}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.People != 0 || rep.Rejected != 2*batchSize+5 {
		t.Fatalf("people %d, rejected %d", rep.People, rep.Rejected)
	}
}

func TestScopeEndsWhenASourceFails(t *testing.T) {
	// Before any batch, after a part of one, and after several were handed
	// to the writer.
	smallBatches(t)
	for _, n := range []int{0, 3, batchSize, 2*batchSize + 5} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			dm, _ := scopeMap(t)
			st := openStore(t)
			_, err := runWithin(t, st, Request{Map: dm, Systems: []string{"uploads"}, Window: window,
				Sources: []sources.Source{failing{n: n}}})
			if !errors.Is(err, errUnreadable) {
				t.Fatalf("err = %v; want %v", err, errUnreadable)
			}
			// Nothing was committed.
			if infos, err := st.Snapshots(context.Background(), "offline"); err != nil || len(infos) != 0 {
				t.Fatalf("snapshots = %v, %v", infos, err)
			}
		})
	}
}

// failingWriter fails its second Add.
type failingWriter struct {
	adds int
}

var errDiskFull = errors.New("disk full")

func (w *failingWriter) Add(ctx context.Context, batch []store.Subject) (int, int, error) {
	w.adds++
	if w.adds == 2 {
		return 0, 0, errDiskFull
	}
	return len(batch), 0, nil
}
func (*failingWriter) Commit(context.Context) (store.SnapshotInfo, error) {
	return store.SnapshotInfo{}, nil
}
func (*failingWriter) Abort(context.Context) error { return nil }
func (*failingWriter) Keyer() *store.SubjectKeyer  { return nil }

func TestWriterFailsFastAndStopsOnce(t *testing.T) {
	wr := startWriter(context.Background(), &failingWriter{})
	batch := make([]store.Subject, 1, batchSize)
	var err error
	for range 10 { // the second write fails; a later send says so
		if batch, err = wr.send(context.Background(), batch); err != nil {
			break
		}
		batch = append(batch, store.Subject{})
	}
	if !errors.Is(err, errDiskFull) {
		t.Fatalf("send = %v; want %v", err, errDiskFull)
	}
	for range 2 {
		if _, err := wr.stop(); !errors.Is(err, errDiskFull) {
			t.Fatalf("stop = %v; want %v", err, errDiskFull)
		}
	}
}

func TestWriterStoppedAtOnce(t *testing.T) {
	// Stopped before its goroutine had a chance to run, and again.
	for range 100 {
		wr := startWriter(context.Background(), &failingWriter{})
		if n, err := wr.stop(); n != 0 || err != nil {
			t.Fatalf("stop = %d, %v", n, err)
		}
		if _, err := wr.stop(); err != nil {
			t.Fatal(err)
		}
	}
}

// The snapshot knows people by their keyed hash: not the SHA-256 of
// "id:<id>" that anyone holding the database could compute and test.
func TestScopeKeysPeopleWithTheStoreSecret(t *testing.T) {
	dm, fields := scopeMap(t)
	st := openStore(t)
	ctx := context.Background()
	rep, err := runWithin(t, st, Request{Map: dm, Systems: []string{"uploads"}, Window: window, IncidentID: "INC-20261120-AAAAA",
		Sources: []sources.Source{sources.CSV("affected.csv", strings.NewReader("id,email,name,locale,country,region,seen_at\nu1,ana@example.com,Ana,pt-BR,BR,,2026-11-19T23:00:00Z\n"), fields)}})
	if err != nil {
		t.Fatal(err)
	}
	people, err := st.ReadSnapshot(ctx, rep.SnapshotID, [16]byte{}, 10)
	if err != nil || len(people) != 1 {
		t.Fatalf("%d people, %v", len(people), err)
	}
	plain := sha256.Sum256([]byte("id:u1"))
	if people[0].Key == [16]byte(plain[:16]) {
		t.Fatal("the snapshot holds the unkeyed SHA-256 of the person's identity")
	}
	k, err := st.SubjectKeyer(ctx, "INC-20261120-AAAAA")
	if err != nil || people[0].Key != k.Key("id:u1") {
		t.Fatalf("the key is not the store's keyed hash of id:u1 (%v)", err)
	}
}
