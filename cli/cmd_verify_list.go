package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/mybak/mybak/verify"
)

// printFiles prints the files of a deep verify's report (verify --list):
// path and size, tab-separated columns, damaged files marked. A backup
// whose stream is not an xbstream has no file list: say so on the log.
func printFiles(e *env, rep *verify.Report, list bool) {
	if !list || !rep.Deep {
		return
	}
	if rep.Files == nil {
		if rep.Content != "xbstream" {
			e.log.Warn("no file list: the backup's stream is not an xbstream", "id", rep.ID, "content", rep.Content)
		} else {
			e.log.Warn("no file list: the stream could not be decoded to its end", "id", rep.ID)
		}
		return
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "\nPATH\tSIZE\t\n")
	for _, f := range rep.Files {
		note := ""
		switch {
		case f.Damaged > 0:
			note = fmt.Sprintf("DAMAGED (%d bad chunks)", f.Damaged)
		case !f.Complete:
			note = "INCOMPLETE"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\n", printable(f.Path), f.Size, note)
	}
	tw.Flush()
}
