package backup

import (
	"context"
	"fmt"
	"time"

	"github.com/mybak/mybak/storage"
)

// ListHint is the advice that ends a message about a backup that is not
// there: the command that shows what the store holds in layout.
func ListHint(layout Layout, location string) string {
	return fmt.Sprintf("`mybak list%s --storage %s` shows what there is", layout.ListArgs(), location)
}

// noBackup is the error of LoadManifest for an ID without a manifest: no
// backup at all, or an incomplete one (its objects without a manifest:
// it never finished, or is still being written). It wraps ErrNoBackup and
// cause (storage.ErrNotFound), whose text it leaves out.
func noBackup(ctx context.Context, st storage.Backend, id string, cause error) error {
	n := 0
	msg := fmt.Sprintf("%v %s in %s; %s", ErrNoBackup, id, st.Location(), ListHint(ownLayout{}, st.Location()))
	if err := st.List(ctx, id+"/", func(storage.ObjectInfo) error { n++; return nil }); err == nil && n > 0 {
		msg = fmt.Sprintf("%v %s in %s that is complete: its %d object(s) have no manifest (it never finished, or is still being written); %s",
			ErrNoBackup, id, st.Location(), n, ListHint(ownLayout{}, st.Location()))
	}
	return &notFoundError{msg: msg, cause: cause}
}

type notFoundError struct {
	msg   string
	cause error
}

func (e *notFoundError) Error() string   { return e.msg }
func (e *notFoundError) Unwrap() []error { return []error{ErrNoBackup, e.cause} }

// InProgress says whether backup id is being written: it has no manifest
// and its writer is alive (WriterAlive); the reason ("pid N on HOST is
// writing it") or "".
func InProgress(ctx context.Context, st storage.Backend, id string) (string, error) {
	if err := ValidateID(id); err != nil {
		return "", err
	}
	e := Entry{ID: id, State: StateIncomplete}
	if err := st.List(ctx, id+"/", func(oi storage.ObjectInfo) error {
		if oi.Name == id+"/"+ManifestName {
			e.State = StateComplete
		}
		e.Objects = append(e.Objects, oi)
		return nil
	}); err != nil {
		return "", fmt.Errorf("list backup %s: %w", id, err)
	}
	if e.State != StateIncomplete || len(e.Objects) == 0 {
		return "", nil
	}
	return WriterAlive(ctx, st, e, time.Now())
}

// Unfinished says, in mybak's layout, what there is of backup id that has
// no manifest: the marker and why its writer is believed alive (nil, ""
// when it is not being written: InProgress), and how many objects it left
// (0: none at all). err is the failure to count the objects.
func Unfinished(ctx context.Context, st storage.Backend, id string) (mk *Marker, writer string, objects int, err error) {
	if why, _ := InProgress(ctx, st, id); why != "" {
		if mk, err := ReadMarker(ctx, st, ownLayout{}, id); err == nil {
			return mk, why, 0, nil
		}
		return nil, why, 0, nil
	}
	err = st.List(ctx, id+"/", func(storage.ObjectInfo) error { objects++; return nil })
	return nil, "", objects, err
}
