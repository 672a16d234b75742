package change

// AppendKeyJSON appends c's key as the JSON object Sluice JSON writes in
// its "key" member — the key columns with their after values (before
// values when the after image lacks them, as in deletes), {"id":42} — and
// returns the extended buffer. It appends nothing when c has no key
// columns with a value (a table without a primary key, a begin or commit).
// Sinks use it as a message key, so that one row's changes share a key.
func AppendKeyJSON(dst []byte, c *Change) []byte {
	mark := len(dst)
	n := max(len(c.Columns), len(c.Before), len(c.After))
	dst = appendKey(dst, c, nil, n, nil)
	if len(dst) == mark {
		return dst
	}
	// appendKey wrote `,"key":{…}`: keep the object.
	const member = len(`,"key":`)
	return append(dst[:mark], dst[mark+member:]...)
}
