// Package evidence builds and verifies an incident's evidence pack: a zip of
// the timeline, the decisions with who and when, the ruleset version and why
// each obligation applied or did not, and every notice as approved and sent
// with its message IDs and delivery states.
//
// Every file is a record in a hash chain, in the order the manifest lists
// them. The chain starts from the incident ID and each link covers the one
// before, the file's name and the SHA-256 of its content, all as text, so
// anyone can recompute it with sha256sum:
//
//	genesis = sha256("breachctl-evidence/1\n" + incident + "\n")
//	link_i  = sha256(hex(link_i-1) + "\n" + name_i + "\n" + hex(sha256(content_i)) + "\n")
//	head    = "sha256:" + hex(link_n)
//
// Editing, dropping, adding or reordering a file breaks the chain. A chain
// alone can be recomputed by whoever edits the files, so its head is also
// signed with Ed25519 when a key is given, and recorded where the pack
// cannot reach it: the incident's timeline in Temporal (see Anchor).
//
// The package is pure: no I/O beyond the readers and writers it is given.
package evidence

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Format names the pack format; a verifier refuses any other.
const Format = "breachctl-evidence/1"

// ManifestName is the manifest's name in the zip: the last entry, outside
// the chain it describes.
const ManifestName = "manifest.json"

// HeadPrefix marks a chain head: "sha256:" and 64 hex digits.
const HeadPrefix = "sha256:"

// genesis is the chain's start, bound to the incident so a pack's files
// cannot be passed off as another incident's.
func genesis(incidentID string) [32]byte {
	return sha256.Sum256([]byte(Format + "\n" + incidentID + "\n"))
}

// link is the chain value after a file.
func link(prev [32]byte, name string, contentHash [32]byte) [32]byte {
	return sha256.Sum256([]byte(hex.EncodeToString(prev[:]) + "\n" + name + "\n" + hex.EncodeToString(contentHash[:]) + "\n"))
}

// signedMessage is what the Ed25519 signature covers: the head, with the
// format and incident so a signature cannot be moved to another context.
func signedMessage(incidentID, head string) []byte {
	return []byte(Format + "\n" + incidentID + "\n" + head + "\n")
}

// validName accepts the relative paths a pack uses: letters, digits, '.',
// '-', '_' and '/' between non-empty segments, none of them "." or "..".
// Anything else (absolute paths, backslashes, "..") could escape a
// directory when someone unzips a pack, so a verifier refuses it.
func validName(name string) bool {
	if name == "" || len(name) > 200 {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_' || r == '/') {
			return false
		}
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return true
}
