package grammar

import "fmt"

// Format regular expressions (anchored, ASCII only, so the JSON encoding
// is the text itself). They accept a subset of each format chosen so that
// every accepted string is valid by RFC 3339 / RFC 4122 / the hostname and
// e-mail rules validators apply (real calendar days, leap years, no
// leading zeros in IPv4, bounded label and local-part lengths); some valid
// strings are not generated (leap seconds, quoted e-mail local parts,
// lower-case 't'/'z').
const (
	reYear     = `[0-9]{4}`
	reLeapYear = `([0-9]{2}(0[48]|[2468][048]|[13579][26])|([02468][048]|[13579][26])00)`
	reDate     = `(` + reYear + `-(0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])` +
		`|` + reYear + `-(0[469]|11)-(0[1-9]|[12][0-9]|30)` +
		`|` + reYear + `-02-(0[1-9]|1[0-9]|2[0-8])` +
		`|` + reLeapYear + `-02-29)`
	reTime     = `([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])`
	reHex      = `[0-9a-fA-F]`
	reUUID     = reHex + `{8}-` + reHex + `{4}-` + reHex + `{4}-` + reHex + `{4}-` + reHex + `{12}`
	reOctet    = `(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])`
	reIPv4     = reOctet + `\.` + reOctet + `\.` + reOctet + `\.` + reOctet
	reLabel    = `[A-Za-z0-9]([A-Za-z0-9-]{0,20}[A-Za-z0-9])?`
	reHostname = reLabel + `(\.` + reLabel + `){0,3}`
	reAtom     = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,15}"
	reEmail    = reAtom + `(\.` + reAtom + `){0,3}@` + reLabel + `(\.` + reLabel + `){1,3}`
	reDuration = `P([0-9]{1,6}Y([0-9]{1,6}M)?([0-9]{1,6}D)?(T` + reDurTime + `)?` +
		`|[0-9]{1,6}M([0-9]{1,6}D)?(T` + reDurTime + `)?` +
		`|[0-9]{1,6}D(T` + reDurTime + `)?` +
		`|T` + reDurTime + `|[0-9]{1,6}W)`
	reDurTime = `([0-9]{1,6}H([0-9]{1,6}M)?([0-9]{1,6}S)?|[0-9]{1,6}M([0-9]{1,6}S)?|[0-9]{1,6}S)`
)

// formatPattern returns the anchored regular expression for a format, or
// "" when the format is not enforced.
func formatPattern(name string) string {
	switch name {
	case "date":
		return reDate
	case "time":
		return reTime
	case "date-time":
		return reDate + "T" + reTime
	case "uuid":
		return reUUID
	case "ipv4":
		return reIPv4
	case "hostname":
		return reHostname
	case "email":
		return reEmail
	case "duration":
		return reDuration
	}
	return ""
}

// formatExpr returns the expression of a string body in format name, or
// nil if the format is not enforced.
func formatExpr(name string) *expr {
	p := formatPattern(name)
	if p == "" {
		return nil
	}
	e, err := compileRegex("^(" + p + ")$")
	if err != nil {
		panic(fmt.Sprintf("grammar: format %s: %v", name, err))
	}
	return e
}
