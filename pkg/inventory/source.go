package inventory

import "context"

// Request is what one collection reads, and who hears of its progress. It
// is passed to each Collect call, so that one collector serves concurrent
// audits (warm Lambda invocations) without shared mutable settings.
type Request struct {
	// Regions to list functions in; empty means every region enabled for
	// the account (live) or every region exported (snapshot).
	Regions []string
	// OnIAMRead, when set, is called once the bulk IAM read and the early
	// policy fetch are done, while functions may still be being listed.
	// It runs before Collect returns; it must not change what it is given.
	// A snapshot never calls it: everything is at hand at once.
	OnIAMRead func(IAMRead)
	// OnIAMPage, when set, is called with each page of the bulk IAM read
	// as it arrives, to start work on it (parsing documents) while the
	// next pages are on their way. It must return quickly and must not
	// change what it is given.
	OnIAMPage func(IAMPage)
}

// IAMPage is one page of the bulk IAM read.
type IAMPage struct {
	Roles    []*Role
	Users    []*User
	Groups   []*Group
	Policies []*ManagedPolicy
}

// IAMRead is what the bulk IAM read knows before the functions are listed.
type IAMRead struct {
	// Roles are the roles Lambda can assume, by ARN.
	Roles map[string]*Role
	// Policies are the managed policies read so far, by ARN.
	Policies map[string]*ManagedPolicy
	// Directory is every principal of the account: the same value the
	// collected Account will hold.
	Directory *Directory
}

// Snapshot is an offline source: a directory of AWS CLI exports (see
// LoadSnapshot).
type Snapshot struct{ Dir string }

// Collect loads the snapshot, restricted to the requested regions.
func (s Snapshot) Collect(_ context.Context, req Request) (*Account, error) {
	return LoadSnapshot(s.Dir, req.Regions)
}
