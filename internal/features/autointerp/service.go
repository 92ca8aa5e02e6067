package autointerp

import (
	"context"

	"saex/internal/features"
)

// Service is features.AutoInterpService over a Pipeline: the API's
// generate and score routes.
type Service struct {
	Pipeline *Pipeline
}

// Generate explains one feature and stores the explanation. As Neuronpedia
// does, it refuses a second explanation of the same method and model.
func (s *Service) Generate(ctx context.Context, req features.GenerateRequest) (*features.Explanation, error) {
	if err := req.Key.Validate(); err != nil {
		return nil, err
	}
	if req.ExplanationType != "" && req.ExplanationType != ExplainType {
		return nil, features.Errorf(features.EINVALID, "explanationType %q is not offered; use %q", req.ExplanationType, ExplainType)
	}
	p := *s.Pipeline
	ex := *p.Explainer
	if req.ExplanationModel != "" {
		ex.Model = req.ExplanationModel
	}
	p.Explainer = &ex
	ft, err := p.Store.GetFeature(ctx, req.Key, features.FeatureOptions{NoActivations: true})
	if err != nil {
		return nil, err
	}
	for _, e := range ft.Explanations {
		if e.TypeName == ExplainType && e.ExplanationModelName == ex.Model {
			return nil, features.Errorf(features.ECONFLICT, "feature %s already has a %s explanation by %s (%s)", req.Key, ExplainType, ex.Model, e.ID)
		}
	}
	res, err := p.Explain(ctx, req.Key, nil, "api")
	if err != nil {
		return nil, err
	}
	if res.Explanation == nil {
		return nil, features.Errorf(features.EUNPROCESSABLE, "feature %s has no activating examples to explain", req.Key)
	}
	if req.AuthorID != "" {
		res.Explanation.AuthorID = req.AuthorID
	}
	if err := p.Store.WriteAutoInterp(ctx, []*features.Explanation{res.Explanation}, []*features.ExplanationRun{res.Run}, nil); err != nil {
		return nil, err
	}
	return p.Store.ExplanationByID(ctx, res.Explanation.ID)
}

// Score scores a stored explanation and stores the score.
func (s *Service) Score(ctx context.Context, req features.ScoreRequest) (*features.ExplanationScore, error) {
	typ := ScorerName(req.ScorerType)
	if typ == "" {
		return nil, features.Errorf(features.EINVALID, "scorerType %q is not offered; use %q (detection), %q (fuzzing) or %q", req.ScorerType, ScoreDetection, ScoreFuzzing, ScoreEmbedding)
	}
	p := *s.Pipeline
	if err := p.canScore(typ); err != nil {
		return nil, err
	}
	if typ == ScoreEmbedding {
		es := *p.Embedding
		if req.ScorerModel != "" {
			es.Model = req.ScorerModel
		}
		p.Embedding = &es
	} else {
		sc := *p.Scorer
		if req.ScorerModel != "" {
			sc.Model = req.ScorerModel
		}
		p.Scorer = &sc
	}
	e, err := p.Store.ExplanationByID(ctx, req.ExplanationID)
	if err != nil {
		return nil, err
	}
	score, _, err := p.ScoreExplanation(ctx, e, typ)
	if err != nil {
		return nil, err
	}
	score.InitiatedByUserID = req.InitiatedBy
	if score.InitiatedByUserID == "" {
		score.InitiatedByUserID = AuthorID
	}
	if err := p.Store.AddExplanationScore(ctx, score); err != nil {
		return nil, err
	}
	return score, nil
}
