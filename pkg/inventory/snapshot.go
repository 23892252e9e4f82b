package inventory

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"lambda-role-audit/pkg/policy"
)

// InputError is a snapshot file that is missing, malformed or inconsistent.
// The command line maps it to exit status 2.
type InputError struct {
	File string
	Err  error
}

func (e *InputError) Error() string { return e.File + ": " + e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// Snapshot file names inside a snapshot directory.
const (
	SnapshotIAMFile = "iam.json"
	// SnapshotAliasFile is optional: `aws iam list-account-aliases`.
	SnapshotAliasFile    = "account-aliases.json"
	snapshotLambdaPrefix = "lambda-"
	snapshotESMPrefix    = "event-source-mappings-"
)

// LoadSnapshot reads an offline snapshot: DIR/iam.json (the output of
// `aws iam get-account-authorization-details`), DIR/lambda-<region>.json
// (`aws lambda list-functions --region <region>`) and, optionally,
// DIR/event-source-mappings-<region>.json. regions, when not empty, limits
// the audit to those regions; each must have its file.
func LoadSnapshot(dir string, regions []string) (*Account, error) {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		if err == nil {
			err = errors.New("not a directory")
		}
		return nil, &InputError{File: dir, Err: fmt.Errorf("cannot read snapshot directory: %w", err)}
	}
	return loadSnapshotFS(os.DirFS(dir), dir, regions)
}

// loadSnapshotFS reads a snapshot from any file system; dir only labels
// the files in error messages.
func loadSnapshotFS(fsys fs.FS, dir string, regions []string) (*Account, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, &InputError{File: dir, Err: fmt.Errorf("cannot read snapshot directory: %w", err)}
	}
	acct := &Account{
		Source:   "snapshot",
		Roles:    map[string]*Role{},
		Policies: map[string]*ManagedPolicy{},
		Mappings: map[string][]EventSourceMapping{},
	}
	available := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasPrefix(name, snapshotLambdaPrefix) || !strings.HasSuffix(name, ".json") {
			continue
		}
		region := strings.TrimSuffix(strings.TrimPrefix(name, snapshotLambdaPrefix), ".json")
		if !ValidRegion(region) {
			return nil, &InputError{File: filepath.Join(dir, name), Err: fmt.Errorf("file name must be lambda-<region>.json, and %q is not a region name", region)}
		}
		available[region] = true
	}
	wanted := regions
	if len(wanted) == 0 {
		for r := range available {
			wanted = append(wanted, r)
		}
		sort.Strings(wanted)
	}
	if len(wanted) == 0 {
		return nil, &InputError{File: dir, Err: errors.New("no lambda-<region>.json files: export at least one region with `aws lambda list-functions --region <region>`")}
	}
	for _, region := range wanted {
		if !available[region] {
			return nil, &InputError{File: filepath.Join(dir, snapshotLambdaPrefix+region+".json"), Err: errors.New("missing: region was requested but not exported")}
		}
		fns, err := loadFunctions(fsys, dir, snapshotLambdaPrefix+region+".json", region)
		if err != nil {
			return nil, err
		}
		acct.Functions = append(acct.Functions, fns...)
		acct.Regions = append(acct.Regions, region)

		esmName := snapshotESMPrefix + region + ".json"
		if _, statErr := fs.Stat(fsys, esmName); statErr == nil {
			maps, err := loadMappings(fsys, dir, esmName)
			if err != nil {
				return nil, err
			}
			acct.Mappings[region] = maps
		}
	}
	if err := loadIAM(fsys, dir, SnapshotIAMFile, acct); err != nil {
		return nil, err
	}
	if err := loadAlias(fsys, dir, acct); err != nil {
		return nil, err
	}
	acct.normalize()
	return acct, nil
}

func loadFunctions(fsys fs.FS, dir, name, region string) ([]Function, error) {
	path := filepath.Join(dir, name)
	var list cliFunctionList
	if err := decodeFile(fsys, dir, name, &list); err != nil {
		return nil, err
	}
	if list.Functions == nil {
		return nil, &InputError{File: path, Err: errors.New(`no "Functions" array: expected the output of aws lambda list-functions`)}
	}
	if list.NextMarker != nil && *list.NextMarker != "" {
		return nil, &InputError{File: path, Err: errors.New("export is truncated (NextMarker is set): export without --max-items/--no-paginate")}
	}
	out := make([]Function, 0, len(*list.Functions))
	for i, f := range *list.Functions {
		switch {
		case f.FunctionArn == "":
			return nil, &InputError{File: path, Err: fmt.Errorf("Functions[%d] has no FunctionArn", i)}
		case f.Role == "":
			return nil, &InputError{File: path, Err: fmt.Errorf("Functions[%d] (%s) has no Role", i, f.FunctionArn)}
		case !strings.HasPrefix(f.Role, "arn:") || !strings.Contains(f.Role, ":role/"):
			return nil, &InputError{File: path, Err: fmt.Errorf("Functions[%d] (%s) has Role %q, which is not a role ARN", i, f.FunctionArn, f.Role)}
		}
		parsed, err := ParseFunctionARN(f.FunctionArn)
		if err != nil {
			return nil, &InputError{File: path, Err: fmt.Errorf("Functions[%d].FunctionArn: %w", i, err)}
		}
		if parsed.Region != region {
			return nil, &InputError{File: path, Err: fmt.Errorf("Functions[%d] (%s) is in region %s, but the file is for %s", i, f.FunctionArn, parsed.Region, region)}
		}
		fn := f.toFunction(region)
		if fn.Name == "" {
			fn.Name = f.FunctionArn[strings.LastIndex(f.FunctionArn, ":")+1:]
		}
		out = append(out, fn)
	}
	return out, nil
}

func loadMappings(fsys fs.FS, dir, name string) ([]EventSourceMapping, error) {
	path := filepath.Join(dir, name)
	var list cliMappingList
	if err := decodeFile(fsys, dir, name, &list); err != nil {
		return nil, err
	}
	if list.EventSourceMappings == nil {
		return nil, &InputError{File: path, Err: errors.New(`no "EventSourceMappings" array: expected the output of aws lambda list-event-source-mappings`)}
	}
	if list.NextMarker != nil && *list.NextMarker != "" {
		return nil, &InputError{File: path, Err: errors.New("export is truncated (NextMarker is set)")}
	}
	out := make([]EventSourceMapping, 0, len(*list.EventSourceMappings))
	for _, m := range *list.EventSourceMappings {
		out = append(out, m.toMapping())
	}
	return out, nil
}

func loadIAM(fsys fs.FS, dir, name string, acct *Account) error {
	path := filepath.Join(dir, name)
	var details cliAuthorizationDetails
	if err := decodeFile(fsys, dir, name, &details); err != nil {
		return err
	}
	if details.RoleDetailList == nil {
		return &InputError{File: path, Err: errors.New(`no "RoleDetailList" array: expected the output of aws iam get-account-authorization-details`)}
	}
	if details.IsTruncated {
		return &InputError{File: path, Err: errors.New("export is truncated (IsTruncated is true)")}
	}
	principals := &Directory{Roles: map[string]*Role{}, Users: map[string]*User{}, Groups: map[string]*Group{}}
	folded := map[string]*Role{}
	for i, rd := range *details.RoleDetailList {
		if rd.Arn == "" {
			return &InputError{File: path, Err: fmt.Errorf("RoleDetailList[%d] has no Arn", i)}
		}
		r := rd.toRole()
		principals.Roles[rd.Arn] = r
		folded[strings.ToLower(rd.Arn)] = r
	}
	for i, ud := range details.UserDetailList {
		if ud.Arn == "" {
			return &InputError{File: path, Err: fmt.Errorf("UserDetailList[%d] has no Arn", i)}
		}
		principals.Users[ud.Arn] = ud.toUser()
	}
	for i, gd := range details.GroupDetailList {
		if gd.Arn == "" {
			return &InputError{File: path, Err: fmt.Errorf("GroupDetailList[%d] has no Arn", i)}
		}
		principals.Groups[gd.Arn] = gd.toGroup()
	}
	acct.Directory = principals
	unmatched := acct.adoptRoles(func(arn string) (*Role, bool) {
		if r, ok := principals.Roles[arn]; ok {
			return r, true
		}
		r, ok := folded[strings.ToLower(arn)]
		return r, ok
	})
	for _, arn := range unmatched {
		// Not "missing": the export may predate the role, or the role may
		// be in another account. Only IAM itself can say it does not exist.
		acct.Problems = append(acct.Problems, Problem{RoleARN: arn, Message: fmt.Sprintf("the role is not in %s: exported before the role was created, or in another account; re-export, or audit live", path)})
	}
	needed := map[string]bool{}
	for _, p := range principals.AttachedPolicies() {
		needed[p] = true
	}
	for i, p := range details.Policies {
		if p.Arn == "" {
			return &InputError{File: path, Err: fmt.Errorf("Policies[%d] has no Arn", i)}
		}
		if !needed[p.Arn] {
			continue
		}
		if mp, ok := p.defaultVersion(); ok {
			acct.Policies[p.Arn] = mp
		}
	}
	return nil
}

// decodeFile reads one JSON file into v, turning decode errors into messages
// that name the file, the line and the field.
func decodeFile(fsys fs.FS, dir, name string, v any) error {
	path := filepath.Join(dir, name)
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return &InputError{File: path, Err: errors.New("missing")}
		}
		return &InputError{File: path, Err: err}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return &InputError{File: path, Err: errors.New("file is empty")}
	}
	if err := json.Unmarshal(data, v); err != nil {
		return &InputError{File: path, Err: describeDecodeError(data, err)}
	}
	return nil
}

func describeDecodeError(data []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn) && syn.Error() == "unexpected end of JSON input":
		return errors.New("truncated JSON: the file ends before the document does")
	case errors.As(err, &syn):
		line, col := policy.LineCol(data, syn.Offset)
		return fmt.Errorf("malformed JSON at line %d, column %d: %v", line, col, syn)
	case errors.As(err, &typ):
		line, col := policy.LineCol(data, typ.Offset)
		field := typ.Field
		if field == "" {
			field = "top level"
		}
		return fmt.Errorf("line %d, column %d: %s must be %s, not a JSON %s", line, col, field, describeGoType(typ.Type.String()), typ.Value)
	}
	return err
}

func describeGoType(t string) string {
	switch {
	case t == "string":
		return "a string"
	case t == "bool":
		return "a boolean"
	case strings.HasPrefix(t, "[]"), strings.HasPrefix(t, "*[]"):
		return "an array"
	case strings.HasPrefix(t, "inventory."), strings.HasPrefix(t, "struct"), strings.HasPrefix(t, "*struct"), strings.HasPrefix(t, "map"):
		return "an object"
	}
	return "of type " + t
}

func arnRegion(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return ""
	}
	return parts[3]
}

// loadAlias reads the optional alias export.
func loadAlias(fsys fs.FS, dir string, acct *Account) error {
	b, err := fs.ReadFile(fsys, SnapshotAliasFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	path := filepath.Join(dir, SnapshotAliasFile)
	if err != nil {
		return &InputError{File: path, Err: err}
	}
	var export struct {
		AccountAliases *[]string
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&export); err != nil {
		return &InputError{File: path, Err: fmt.Errorf("not the output of aws iam list-account-aliases: %w", err)}
	}
	if export.AccountAliases == nil {
		return &InputError{File: path, Err: errors.New("no AccountAliases list: not the output of aws iam list-account-aliases")}
	}
	if len(*export.AccountAliases) > 0 {
		acct.Alias = (*export.AccountAliases)[0]
	}
	return nil
}
