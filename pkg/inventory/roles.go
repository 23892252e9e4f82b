package inventory

// adoptRoles records, for every function whose role is not yet in
// a.Roles, the role lookup finds for the ARN the function names. IAM role
// names are unique whatever their case and Lambda keeps a role ARN as it
// was given, so lookup may return a role spelled otherwise: the function is
// then grouped under IAM's spelling, with the role's other functions. It
// returns the role ARNs, as the functions name them, that lookup did not
// find.
func (a *Account) adoptRoles(lookup func(arn string) (*Role, bool)) []string {
	var unmatched []string
	seen := map[string]bool{}
	for i := range a.Functions {
		f := &a.Functions[i]
		if f.RoleARN == "" || a.Roles[f.RoleARN] != nil {
			continue
		}
		r, ok := lookup(f.RoleARN)
		if !ok {
			if !seen[f.RoleARN] {
				seen[f.RoleARN] = true
				unmatched = append(unmatched, f.RoleARN)
			}
			continue
		}
		f.RoleARN = r.ARN
		a.Roles[r.ARN] = r
	}
	return unmatched
}

// functionAccount is the account the functions were listed in.
func (a *Account) functionAccount() string {
	for _, f := range a.Functions {
		if id := arnAccount(f.ARN); id != "" {
			return id
		}
	}
	return a.ID
}
