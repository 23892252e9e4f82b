package inventory

import "encoding/json"

// These types mirror the JSON that the AWS CLI writes (the API's own member
// names). Only the fields the audit uses are declared; others are ignored.

type cliFunctionList struct {
	Functions  *[]cliFunction `json:"Functions"`
	NextMarker *string        `json:"NextMarker"`
}

type cliFunction struct {
	FunctionName string `json:"FunctionName"`
	FunctionArn  string `json:"FunctionArn"`
	Role         string `json:"Role"`
	VpcConfig    *struct {
		SubnetIds []string `json:"SubnetIds"`
	} `json:"VpcConfig"`
	TracingConfig *struct {
		Mode string `json:"Mode"`
	} `json:"TracingConfig"`
	DeadLetterConfig *struct {
		TargetArn string `json:"TargetArn"`
	} `json:"DeadLetterConfig"`
	KMSKeyArn   string `json:"KMSKeyArn"`
	Environment *struct {
		Variables map[string]string `json:"Variables"`
	} `json:"Environment"`
	Layers []struct {
		Arn string `json:"Arn"`
	} `json:"Layers"`
	FileSystemConfigs []struct {
		Arn            string `json:"Arn"`
		LocalMountPath string `json:"LocalMountPath"`
	} `json:"FileSystemConfigs"`
}

type cliMappingList struct {
	EventSourceMappings *[]cliMapping `json:"EventSourceMappings"`
	NextMarker          *string       `json:"NextMarker"`
}

type cliMapping struct {
	UUID                   string          `json:"UUID"`
	FunctionArn            string          `json:"FunctionArn"`
	EventSourceArn         string          `json:"EventSourceArn"`
	SelfManagedEventSource json.RawMessage `json:"SelfManagedEventSource"`
}

type cliAuthorizationDetails struct {
	RoleDetailList  *[]cliRoleDetail `json:"RoleDetailList"`
	UserDetailList  []cliUserDetail  `json:"UserDetailList"`
	GroupDetailList []cliGroupDetail `json:"GroupDetailList"`
	Policies        []cliPolicy      `json:"Policies"`
	IsTruncated     bool             `json:"IsTruncated"`
}

type cliNamedPolicy struct {
	PolicyName     string          `json:"PolicyName"`
	PolicyDocument json.RawMessage `json:"PolicyDocument"`
}

type cliAttached struct {
	PolicyArn string `json:"PolicyArn"`
}

type cliUserDetail struct {
	UserName                string           `json:"UserName"`
	Arn                     string           `json:"Arn"`
	UserPolicyList          []cliNamedPolicy `json:"UserPolicyList"`
	AttachedManagedPolicies []cliAttached    `json:"AttachedManagedPolicies"`
	GroupList               []string         `json:"GroupList"`
	PermissionsBoundary     *struct {
		PermissionsBoundaryArn string `json:"PermissionsBoundaryArn"`
	} `json:"PermissionsBoundary"`
}

type cliGroupDetail struct {
	GroupName               string           `json:"GroupName"`
	Arn                     string           `json:"Arn"`
	GroupPolicyList         []cliNamedPolicy `json:"GroupPolicyList"`
	AttachedManagedPolicies []cliAttached    `json:"AttachedManagedPolicies"`
}

func (u cliUserDetail) toUser() *User {
	user := &User{ARN: u.Arn, Name: u.UserName, Groups: u.GroupList}
	for _, p := range u.UserPolicyList {
		user.Inline = append(user.Inline, InlinePolicy{Name: p.PolicyName, Document: p.PolicyDocument})
	}
	for _, p := range u.AttachedManagedPolicies {
		user.AttachedPolicyARNs = append(user.AttachedPolicyARNs, p.PolicyArn)
	}
	if u.PermissionsBoundary != nil {
		user.BoundaryARN = u.PermissionsBoundary.PermissionsBoundaryArn
	}
	return user
}

func (g cliGroupDetail) toGroup() *Group {
	group := &Group{ARN: g.Arn, Name: g.GroupName}
	for _, p := range g.GroupPolicyList {
		group.Inline = append(group.Inline, InlinePolicy{Name: p.PolicyName, Document: p.PolicyDocument})
	}
	for _, p := range g.AttachedManagedPolicies {
		group.AttachedPolicyARNs = append(group.AttachedPolicyARNs, p.PolicyArn)
	}
	return group
}

type cliRoleDetail struct {
	RoleName                 string          `json:"RoleName"`
	Arn                      string          `json:"Arn"`
	AssumeRolePolicyDocument json.RawMessage `json:"AssumeRolePolicyDocument"`
	InstanceProfileList      []struct {
		Arn string `json:"Arn"`
	} `json:"InstanceProfileList"`
	RolePolicyList []struct {
		PolicyName     string          `json:"PolicyName"`
		PolicyDocument json.RawMessage `json:"PolicyDocument"`
	} `json:"RolePolicyList"`
	AttachedManagedPolicies []struct {
		PolicyArn string `json:"PolicyArn"`
	} `json:"AttachedManagedPolicies"`
	PermissionsBoundary *struct {
		PermissionsBoundaryArn string `json:"PermissionsBoundaryArn"`
	} `json:"PermissionsBoundary"`
	Tags []struct {
		Key   string `json:"Key"`
		Value string `json:"Value"`
	} `json:"Tags"`
}

type cliPolicy struct {
	PolicyName        string `json:"PolicyName"`
	Arn               string `json:"Arn"`
	DefaultVersionId  string `json:"DefaultVersionId"`
	PolicyVersionList []struct {
		Document         json.RawMessage `json:"Document"`
		VersionId        string          `json:"VersionId"`
		IsDefaultVersion bool            `json:"IsDefaultVersion"`
	} `json:"PolicyVersionList"`
}

func (f cliFunction) toFunction(region string) Function {
	fn := Function{ARN: f.FunctionArn, Name: f.FunctionName, Region: region, RoleARN: f.Role, KMSKeyARN: f.KMSKeyArn}
	if f.VpcConfig != nil && len(f.VpcConfig.SubnetIds) > 0 {
		fn.SubnetIDs = append([]string(nil), f.VpcConfig.SubnetIds...)
	}
	if f.TracingConfig != nil {
		fn.TracingMode = f.TracingConfig.Mode
	}
	if f.DeadLetterConfig != nil {
		fn.DeadLetter = f.DeadLetterConfig.TargetArn
	}
	for _, l := range f.Layers {
		fn.LayerARNs = append(fn.LayerARNs, l.Arn)
	}
	for _, fs := range f.FileSystemConfigs {
		fn.FileSystems = append(fn.FileSystems, FileSystem{ARN: fs.Arn, LocalMountPath: fs.LocalMountPath})
	}
	if f.Environment != nil {
		fn.References = environmentReferences(f.Environment.Variables, partitionOf(f.FunctionArn))
	}
	return fn
}

func (m cliMapping) toMapping() EventSourceMapping {
	return EventSourceMapping{
		UUID:             m.UUID,
		FunctionARN:      m.FunctionArn,
		EventSourceARN:   m.EventSourceArn,
		SelfManagedKafka: m.EventSourceArn == "" && len(m.SelfManagedEventSource) > 0 && string(m.SelfManagedEventSource) != "null",
	}
}

func (r cliRoleDetail) toRole() *Role {
	role := &Role{ARN: r.Arn, Name: r.RoleName}
	for _, p := range r.RolePolicyList {
		role.Inline = append(role.Inline, InlinePolicy{Name: p.PolicyName, Document: p.PolicyDocument})
	}
	for _, p := range r.AttachedManagedPolicies {
		role.AttachedPolicyARNs = append(role.AttachedPolicyARNs, p.PolicyArn)
	}
	if r.PermissionsBoundary != nil {
		role.BoundaryARN = r.PermissionsBoundary.PermissionsBoundaryArn
	}
	if len(r.Tags) > 0 {
		role.Tags = map[string]string{}
		for _, t := range r.Tags {
			role.Tags[t.Key] = t.Value
		}
	}
	if len(r.AssumeRolePolicyDocument) > 0 && string(r.AssumeRolePolicyDocument) != "null" {
		role.TrustPolicy = r.AssumeRolePolicyDocument
	}
	role.InstanceProfile = len(r.InstanceProfileList) > 0
	return role
}

// defaultVersion returns the policy's default version document; only that
// version ever counts.
func (p cliPolicy) defaultVersion() (*ManagedPolicy, bool) {
	mp := &ManagedPolicy{ARN: p.Arn, Name: p.PolicyName, OtherVersions: []PolicyVersion{}}
	for _, v := range p.PolicyVersionList {
		if v.IsDefaultVersion || (p.DefaultVersionId != "" && v.VersionId == p.DefaultVersionId) {
			mp.DefaultVersionID, mp.Document = v.VersionId, v.Document
		} else {
			mp.OtherVersions = append(mp.OtherVersions, PolicyVersion{ID: v.VersionId, Document: v.Document})
		}
	}
	return mp, mp.Document != nil
}
