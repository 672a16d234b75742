// Package checkpoint stores where a pipeline has delivered up to, so that a
// restart resumes from there.
//
// A Store maps a pipeline id to the change.Position of the last change whose
// delivery the sink acknowledged. Two backends live here: Bolt, an embedded
// bbolt file that is fsync'd on every Save and survives a crash at any
// instant holding either the previous or the new position, and Memory, for
// tests and for callers that do not want persistence.
//
// Saved positions are encoded as a small versioned JSON record of the
// Position's fields, independent of Position's text form, so that files
// written by one release stay readable by the next.
package checkpoint
