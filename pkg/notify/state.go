package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// SSMAPI is the part of the SSM client the state store uses.
type SSMAPI interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, opts ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
	PutParameter(ctx context.Context, in *ssm.PutParameterInput, opts ...func(*ssm.Options)) (*ssm.PutParameterOutput, error)
}

// State is what change mode remembers between runs. The set of finding ids
// can outgrow an SSM parameter (4 KB), so it is kept as a digest.
type State struct {
	Digest string `json:"digest"`
	Count  int    `json:"count"`
}

// StateOf summarises a set of alerting findings, one key each.
func StateOf(ids []string) State {
	sorted := append([]string(nil), ids...)
	sort.Strings(sorted)
	h := sha256.New()
	for _, id := range sorted {
		h.Write([]byte(id))
		h.Write([]byte{0})
	}
	return State{Digest: hex.EncodeToString(h.Sum(nil)), Count: len(sorted)}
}

// StateStore keeps State in an SSM parameter.
type StateStore struct {
	Client    SSMAPI
	Parameter string
}

// Load returns the last run's state; ok is false when there was none (the
// parameter is missing or still holds the template's placeholder).
func (s StateStore) Load(ctx context.Context) (State, bool, error) {
	out, err := s.Client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(s.Parameter)})
	if err != nil {
		var nf *ssmtypes.ParameterNotFound
		if errors.As(err, &nf) {
			return State{}, false, nil
		}
		return State{}, false, fmt.Errorf("read state parameter %s: %w", s.Parameter, err)
	}
	var st State
	if out.Parameter == nil || json.Unmarshal([]byte(aws.ToString(out.Parameter.Value)), &st) != nil || st.Digest == "" {
		return State{}, false, nil
	}
	return st, true, nil
}

// Save records this run's state.
func (s StateStore) Save(ctx context.Context, st State) error {
	b, _ := json.Marshal(st) // a struct of strings and ints always marshals
	_, err := s.Client.PutParameter(ctx, &ssm.PutParameterInput{
		Name: aws.String(s.Parameter), Value: aws.String(string(b)), Type: ssmtypes.ParameterTypeString, Overwrite: aws.Bool(true),
	})
	if err != nil {
		return fmt.Errorf("write state parameter %s: %w", s.Parameter, err)
	}
	return nil
}
