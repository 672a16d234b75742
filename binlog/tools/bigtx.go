package tools

import (
	"context"
	"sort"
)

// BigTxOptions configures BigTx.
type BigTxOptions struct {
	// Top is how many transactions each list keeps (default 10).
	Top int
	// MinBytes and MinRows leave out smaller transactions.
	MinBytes, MinRows int64
	// Progress, when set, gets the bytes read so far and the input's size.
	Progress Progress
}

// BigTxReport lists the largest transactions, largest first.
type BigTxReport struct {
	ByBytes      []*Transaction `json:"by_bytes"`
	ByRows       []*Transaction `json:"by_rows"`
	Transactions int64          `json:"transactions"` // transactions seen
}

// topList keeps the n largest transactions by a measure.
type topList struct {
	n    int
	less func(a, b *Transaction) bool // a is smaller than b
	list []*Transaction
}

func (t *topList) offer(tx *Transaction) {
	if len(t.list) == t.n && !t.less(t.list[len(t.list)-1], tx) {
		return
	}
	c := *tx
	c.Tables = make([]*TableRows, len(tx.Tables))
	for i, tr := range tx.Tables {
		x := *tr
		c.Tables[i] = &x
	}
	sort.Slice(c.Tables, func(i, j int) bool {
		if c.Tables[i].Rows() != c.Tables[j].Rows() {
			return c.Tables[i].Rows() > c.Tables[j].Rows()
		}
		return c.Tables[i].Table < c.Tables[j].Table
	})
	i := sort.Search(len(t.list), func(i int) bool { return t.less(t.list[i], &c) })
	t.list = append(t.list, nil)
	copy(t.list[i+1:], t.list[i:])
	t.list[i] = &c
	if len(t.list) > t.n {
		t.list = t.list[:t.n]
	}
}

// BigTx finds the largest transactions of the binlog files by bytes and by rows.
func BigTx(ctx context.Context, files []string, opt BigTxOptions) (*BigTxReport, error) {
	if len(files) == 0 {
		return nil, errNoFiles
	}
	if opt.Top <= 0 {
		opt.Top = 10
	}
	byBytes := &topList{n: opt.Top, less: func(a, b *Transaction) bool {
		if a.Bytes() != b.Bytes() {
			return a.Bytes() < b.Bytes()
		}
		return a.Rows < b.Rows
	}}
	byRows := &topList{n: opt.Top, less: func(a, b *Transaction) bool {
		if a.Rows != b.Rows {
			return a.Rows < b.Rows
		}
		return a.Bytes() < b.Bytes()
	}}
	rep := &BigTxReport{}
	s := &txScanner{progress: opt.Progress}
	s.onTx = func(tx *Transaction) error {
		rep.Transactions++
		if tx.Bytes() < opt.MinBytes || tx.Rows < opt.MinRows {
			return nil
		}
		byBytes.offer(tx)
		byRows.offer(tx)
		return nil
	}
	if err := s.scanFiles(ctx, files); err != nil {
		return nil, err
	}
	rep.ByBytes, rep.ByRows = byBytes.list, byRows.list
	if rep.ByBytes == nil {
		rep.ByBytes = []*Transaction{}
	}
	if rep.ByRows == nil {
		rep.ByRows = []*Transaction{}
	}
	return rep, nil
}
