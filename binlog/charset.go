package binlog

import (
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/encoding/unicode/utf32"
)

// charsetID names a server character set; collation ids map onto it.
type charsetID uint8

// Character sets known to MySQL and MariaDB. The order is the encoding of
// collationCharsets below.
const (
	csUnknown charsetID = iota
	csBinary
	csUTF8MB3
	csUTF8MB4
	csASCII
	csLatin1
	csLatin2
	csLatin5
	csLatin7
	csCP1250
	csCP1251
	csCP1256
	csCP1257
	csCP850
	csCP852
	csCP866
	csKOI8R
	csKOI8U
	csGreek
	csHebrew
	csMacRoman
	csMacCE
	csGBK
	csGB2312
	csGB18030
	csBig5
	csSJIS
	csCP932
	csUJIS
	csEUCJPMS
	csEUCKR
	csUCS2
	csUTF16
	csUTF16LE
	csUTF32
	csTIS620
	csDec8
	csHP8
	csSwe7
	csKeybcs2
	csArmscii8
	csGeostd8
	csFilename
	csCount
)

// collationCharsets maps collation ids 0-255 (the ids MySQL and MariaDB
// share) to their charsetID, one byte per id.
const collationCharsets = "\x00\x19\x06\x24\x0d\x05\x25\x10\x05\x06\x26\x04\x1c\x1a\x0a\x05\x13\x2a\x23\x1e\x08\x06\x11\x0a\x17\x12\x09\x06\x16\x0c\x07\x05\x28\x02\x09\x1f\x0f\x27\x15\x14\x0e\x08\x08\x15\x09\x03\x03\x05\x05\x05\x0a\x0a\x0a\x14\x20\x20\x21\x0b\x0c\x0c\x22\x22\x21\x01\x28\x04\x09\x0b\x0f\x24\x12\x13\x25\x27\x10\x11\x02\x06\x07\x08\x0d\x0e\x26\x02\x19\x1e\x17\x16\x1a\x23\x1f\x1c\x29\x29\x05\x1b\x1b\x1d\x1d\x09\x00\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x1f\x1f\x1f\x1f\x1f\x1f\x1f\x1f\x1f\x1f\x1f\x1f\x1f\x1f\x1f\x1f\x1f\x1f\x1f\x1f\x1f\x1f\x1f\x1f\x1f\x1f\x1f\x1f\x1f\x1f\x1f\x1f\x22\x22\x22\x22\x22\x22\x22\x22\x22\x22\x22\x22\x22\x22\x22\x22\x22\x22\x22\x22\x22\x22\x22\x22\x22\x22\x22\x22\x22\x22\x22\x22\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x18\x18\x18\x00\x00\x00\x00\x03"

// collationCharset returns the character set of a MySQL or MariaDB collation id.
func collationCharset(id uint32) charsetID {
	switch {
	case id < 256:
		return charsetID(collationCharsets[id])
	case id <= 323: // MySQL 8.0 utf8mb4_*_0900_* and friends
		return csUTF8MB4
	case id >= 576 && id <= 578: // MariaDB utf8mb3 croatian/myanmar/thai_520_w2
		return csUTF8MB3
	case id >= 608 && id <= 610:
		return csUTF8MB4
	case id >= 640 && id <= 642:
		return csUCS2
	case id >= 672 && id <= 674:
		return csUTF16
	case id >= 736 && id <= 738:
		return csUTF32
	case id >= 1024 && id < 2048: // MariaDB NO PAD variants: 1024 + the PAD collation's id
		return collationCharset(id - 1024)
	case id >= 2048 && id < 2304: // MariaDB UCA 14.0.0 collations
		return csUTF8MB3
	case id >= 2304 && id < 2560:
		return csUTF8MB4
	case id >= 2560 && id < 2816:
		return csUCS2
	case id >= 2816 && id < 3072:
		return csUTF16
	case id >= 3072 && id < 3328:
		return csUTF32
	}
	return csUnknown
}

// maxLen returns the longest character of the charset in bytes (mbmaxlen),
// used to turn a byte length from TABLE_MAP metadata into CHAR(n)/VARCHAR(n).
func (c charsetID) maxLen() int {
	switch c {
	case csUTF8MB4, csUTF16, csUTF16LE, csUTF32, csGB18030:
		return 4
	case csUTF8MB3, csUJIS, csEUCJPMS:
		return 3
	case csUCS2, csGBK, csGB2312, csBig5, csSJIS, csCP932, csEUCKR:
		return 2
	case csFilename:
		return 5
	}
	return 1
}

// passThrough reports whether text in this charset is already UTF-8.
func (c charsetID) passThrough() bool {
	switch c {
	case csUTF8MB3, csUTF8MB4, csASCII, csFilename, csUnknown:
		return true
	}
	return false
}

// encoding returns the x/text encoding that decodes the charset to UTF-8, or
// nil when there is none (the text is then kept as bytes).
func (c charsetID) encoding() encoding.Encoding {
	switch c {
	case csLatin1:
		return charmap.Windows1252 // MySQL latin1 is cp1252
	case csLatin2:
		return charmap.ISO8859_2
	case csLatin5:
		return charmap.ISO8859_9
	case csLatin7:
		return charmap.ISO8859_13
	case csCP1250:
		return charmap.Windows1250
	case csCP1251:
		return charmap.Windows1251
	case csCP1256:
		return charmap.Windows1256
	case csCP1257:
		return charmap.Windows1257
	case csCP850:
		return charmap.CodePage850
	case csCP852:
		return charmap.CodePage852
	case csCP866:
		return charmap.CodePage866
	case csKOI8R:
		return charmap.KOI8R
	case csKOI8U:
		return charmap.KOI8U
	case csGreek:
		return charmap.ISO8859_7
	case csHebrew:
		return charmap.ISO8859_8
	case csMacRoman:
		return charmap.Macintosh
	case csTIS620:
		return charmap.Windows874
	case csGBK, csGB2312:
		return simplifiedchinese.GBK
	case csGB18030:
		return simplifiedchinese.GB18030
	case csBig5:
		return traditionalchinese.Big5
	case csSJIS, csCP932:
		return japanese.ShiftJIS
	case csUJIS, csEUCJPMS:
		return japanese.EUCJP
	case csEUCKR:
		return korean.EUCKR
	case csUCS2, csUTF16:
		return unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM)
	case csUTF16LE:
		return unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM)
	case csUTF32:
		return utf32.UTF32(utf32.BigEndian, utf32.IgnoreBOM)
	}
	return nil
}

// asciiCompatible reports whether bytes below 0x80 always stand for
// themselves, so pure-ASCII text needs no decoding.
func (c charsetID) asciiCompatible() bool {
	switch c {
	case csUCS2, csUTF16, csUTF16LE, csUTF32:
		return false
	}
	return true
}

// charsetNames are the server's names of the charsets, indexed by charsetID.
const charsetNames = "unknown binary utf8mb3 utf8mb4 ascii latin1 latin2 latin5 latin7 cp1250 cp1251 cp1256 cp1257 cp850 cp852 cp866 koi8r koi8u greek hebrew macroman macce gbk gb2312 gb18030 big5 sjis cp932 ujis eucjpms euckr ucs2 utf16 utf16le utf32 tis620 dec8 hp8 swe7 keybcs2 armscii8 geostd8 filename"

// charsetByName returns the charsetID of a MySQL/MariaDB character set name
// ("utf8" means utf8mb3), or csUnknown.
func charsetByName(name string) charsetID {
	switch name {
	case "utf8":
		return csUTF8MB3
	case "":
		return csUnknown
	}
	id, start := charsetID(0), 0
	for i := 0; i <= len(charsetNames); i++ {
		if i == len(charsetNames) || charsetNames[i] == ' ' {
			if charsetNames[start:i] == name {
				return id
			}
			id++
			start = i + 1
		}
	}
	return csUnknown
}
