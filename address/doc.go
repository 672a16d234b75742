// Package address reads, checks and redacts the URLs that name Sluice's
// sources, sinks and checkpoint stores.
//
//   - Redact and RedactError hide every secret a URL holds — the password
//     of its userinfo and the value of any query parameter whose name says
//     it is a secret (password, sslpassword, token, sasl_password, …) — in
//     the URL itself and in error text that may quote it. Every log line
//     and error that shows an address goes through them.
//   - Params reads a URL's query parameters with typed accessors (strings,
//     bools, integers, durations, byte sizes) and rejects the parameters
//     nobody read, listing the known ones, so a typo is an error rather
//     than a silently ignored setting.
//   - Registry maps URL schemes to the functions that open them; sources,
//     sinks and checkpoint stores each have one.
package address
