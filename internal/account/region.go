package account

import "strings"

// regions holds every officially assigned ISO 3166-1 alpha-2 code.
var regions = func() map[string]bool {
	const codes = `
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ
BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ
CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ
DE DJ DK DM DO DZ
EC EE EG EH ER ES ET
FI FJ FK FM FO FR
GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY
HK HM HN HR HT HU
ID IE IL IM IN IO IQ IR IS IT
JE JM JO JP
KE KG KH KI KM KN KP KR KW KY KZ
LA LB LC LI LK LR LS LT LU LV LY
MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ
NA NC NE NF NG NI NL NO NP NR NU NZ
OM
PA PE PF PG PH PK PL PM PN PR PS PT PW PY
QA
RE RO RS RU RW
SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ
TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ
UA UG UM US UY UZ
VA VC VE VG VI VN VU
WF WS
YE YT
ZA ZM ZW`
	m := map[string]bool{}
	for _, c := range strings.Fields(codes) {
		m[c] = true
	}
	return m
}()

// NormalizeRegion returns region as an upper-case ISO 3166-1 alpha-2 code,
// accepting lower case, or a validation_failed error naming field.
func NormalizeRegion(field, region string) (string, error) {
	// Only ASCII letters: strings.ToUpper would map some other letters
	// (the dotless ı, for one) onto ASCII codes.
	r := []byte(region)
	for i, c := range r {
		if 'a' <= c && c <= 'z' {
			r[i] = c - 'a' + 'A'
		}
	}
	if len(r) != 2 || !regions[string(r)] {
		return "", invalidf("%s must be an ISO 3166-1 alpha-2 country code such as FR or TR, got %q", field, truncate(region, 16))
	}
	return string(r), nil
}
