package servers

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// ownerLockName is the file in every server directory that the owning
// process (a test binary, sluice demo) holds an flock on. The kernel drops the lock when that process
// dies, however it dies, so an unlocked directory is garbage.
const ownerLockName = ".owner.lock"

// staleAfter guards against sweeping a directory whose creator has made the
// lock file but not locked it yet.
const staleAfter = 30 * time.Second

// baseDir is the parent of every server directory: $TMPDIR/sluice-testenv.
func baseDir() string {
	return filepath.Join(os.TempDir(), "sluice-testenv")
}

// serverDir is a private directory for one server, owned by this process
// until release is called.
type serverDir struct {
	path string
	lock *os.File
}

// newServerDir creates a fresh directory for a server of the given kind,
// sweeping directories left behind by processes that died.
func newServerDir(kind string) (*serverDir, error) {
	base := baseDir()
	if err := os.MkdirAll(base, 0o755); err != nil {
		return nil, fmt.Errorf("servers: create %s: %w", base, err)
	}
	// Shared like /tmp itself, so that root and other users can both run
	// tests on one machine.
	if st, err := os.Stat(base); err == nil && st.Mode().Perm() != 0o777 {
		_ = os.Chmod(base, 0o777|os.ModeSticky)
	}
	sweepStale(base, staleAfter)
	path, err := os.MkdirTemp(base, kind+"-")
	if err != nil {
		return nil, fmt.Errorf("servers: create server directory: %w", err)
	}
	// Servers that run as another user (PostgreSQL) must reach their data
	// directory below this one.
	if err := os.Chmod(path, 0o755); err != nil {
		os.RemoveAll(path)
		return nil, fmt.Errorf("servers: chmod %s: %w", path, err)
	}
	lock, err := os.OpenFile(filepath.Join(path, ownerLockName), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		os.RemoveAll(path)
		return nil, fmt.Errorf("servers: create owner lock: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		os.RemoveAll(path)
		return nil, fmt.Errorf("servers: lock %s: %w", path, err)
	}
	return &serverDir{path: path, lock: lock}, nil
}

// join returns a path inside the directory.
func (d *serverDir) join(elem ...string) string {
	return filepath.Join(append([]string{d.path}, elem...)...)
}

// release removes the directory and drops the lock.
func (d *serverDir) release() error {
	err := os.RemoveAll(d.path)
	d.lock.Close()
	if err != nil {
		return fmt.Errorf("servers: remove %s: %w", d.path, err)
	}
	return nil
}

// sweepStale removes server directories whose owner process is gone and
// whose lock file is at least minAge old. Errors are ignored: sweeping is
// best effort and never blocks a start.
func sweepStale(base string, minAge time.Duration) {
	entries, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(base, e.Name())
		lockPath := filepath.Join(dir, ownerLockName)
		st, err := os.Stat(lockPath)
		if err != nil || time.Since(st.ModTime()) < minAge {
			continue
		}
		f, err := os.OpenFile(lockPath, os.O_RDWR, 0)
		if err != nil {
			continue
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
			os.RemoveAll(dir)
		}
		f.Close()
	}
}

// templatesDir holds data directories initialised once and copied by each
// server: $TMPDIR/sluice-testenv-templates.
func templatesDir() string {
	return filepath.Join(os.TempDir(), "sluice-testenv-templates")
}

// hashKey is a short hex digest of parts, naming cached artefacts.
func hashKey(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s\n", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// copyTree copies the directory src to dst (which must not exist), keeping
// permissions. Only directories and regular files are expected.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.Mkdir(target, info.Mode().Perm())
		case info.Mode().IsRegular():
			return copyFile(path, target, info.Mode().Perm())
		default:
			return fmt.Errorf("%s: not a regular file or directory", path)
		}
	})
}

func copyFile(src, dst string, perm os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// chownTree gives root and everything below it to uid:gid.
func chownTree(root string, uid, gid int) error {
	return filepath.WalkDir(root, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	})
}
