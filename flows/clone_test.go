package flows_test

import (
	"reflect"
	"testing"

	"github.com/viza-app/viza/flows"
)

// TestCloneCopiesEverySlice: a command changes its copy of the document
// in place (a task's state, a DSS operation's) and the writer may run it
// twice; a slice of the document the copy shared with the original would
// carry the first run's changes into the cached document. Every slice
// field, present and future, must be the copy's own.
func TestCloneCopiesEverySlice(t *testing.T) {
	var d flows.Document
	v := reflect.ValueOf(&d).Elem()
	var slices []string
	for i := range v.NumField() {
		f := v.Field(i)
		if f.Kind() != reflect.Slice || !f.CanSet() {
			continue
		}
		s := reflect.MakeSlice(f.Type(), 1, 1)
		f.Set(s)
		slices = append(slices, v.Type().Field(i).Name)
	}
	if len(slices) < 8 {
		t.Fatalf("found only the slices %v", slices)
	}
	c := d.Clone()
	cv := reflect.ValueOf(c).Elem()
	for _, name := range slices {
		orig, cp := v.FieldByName(name), cv.FieldByName(name)
		if orig.Len() > 0 && cp.Len() > 0 && orig.Index(0).Addr().Pointer() == cp.Index(0).Addr().Pointer() {
			t.Errorf("Clone shares %s with the original", name)
		}
	}
}
