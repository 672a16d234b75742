package change

// AppendPosition appends p's text (what p.String returns) to dst and
// returns the extended buffer, without allocating when dst has room.
func AppendPosition(dst []byte, p Position) []byte { return appendPosition(dst, p) }
