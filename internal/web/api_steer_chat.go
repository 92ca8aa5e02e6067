package web

import (
	"context"
	"fmt"
	"net/http"
	"unicode/utf8"

	"saex/internal/features"
)

// Neuronpedia's POST /api/steer-chat: two chats (default and steered)
// continued with the model's chat template, without and with steering.

// steerChatRequest is the body: /api/steer's knobs plus the chats.
type steerChatRequest struct {
	steerRequest
	DefaultChatMessages []features.SteerChatMessage `json:"defaultChatMessages"`
	SteeredChatMessages []features.SteerChatMessage `json:"steeredChatMessages"`
}

// steerChatOutput is one continued chat as Neuronpedia returns it: raw is
// the rendered prompt plus the generation, chatTemplate the messages plus
// the new assistant turn.
type steerChatOutput struct {
	Raw          string                      `json:"raw"`
	ChatTemplate []features.SteerChatMessage `json:"chatTemplate"`
	Logprobs     any                         `json:"logprobs"`
}

type steerChatResponse struct {
	Steered  *steerChatOutput `json:"STEERED"`
	Default  *steerChatOutput `json:"DEFAULT"`
	ID       *string          `json:"id"`
	ShareURL *string          `json:"shareUrl"`
	Limit    *string          `json:"limit"`
}

var chatRoles = map[string]bool{"user": true, "assistant": true, "system": true, "model": true, "developer": true}

// checkChat validates one message list; n counts the characters of all.
func checkChat(field string, msgs []features.SteerChatMessage, n *int) error {
	if len(msgs) == 0 {
		return invalidField(field, "is required: [{role, content}]")
	}
	for i, m := range msgs {
		f := fmt.Sprintf("%s[%d]", field, i)
		if !chatRoles[m.Role] {
			return invalidField(f+".role", "must be user, assistant, system, model or developer, got %q", m.Role)
		}
		if !utf8.ValidString(m.Content) {
			return invalidField(f+".content", "must be valid UTF-8")
		}
		*n += utf8.RuneCountInString(m.Content)
	}
	if *n > maxSteerPromptChars {
		return invalidField(field, "the conversations hold %d characters, more than %d", *n, maxSteerPromptChars)
	}
	return nil
}

// handleAPISteerChat handles "POST /api/steer-chat".
func (s *Server) handleAPISteerChat(w http.ResponseWriter, r *http.Request) {
	var body steerChatRequest
	if err := decodeJSON(w, r, s.MaxBodyBytes, &body); err != nil {
		s.apiError(w, r, err)
		return
	}
	chars := 0
	if err := checkChat("defaultChatMessages", body.DefaultChatMessages, &chars); err != nil {
		s.apiError(w, r, err)
		return
	}
	if err := checkChat("steeredChatMessages", body.SteeredChatMessages, &chars); err != nil {
		s.apiError(w, r, err)
		return
	}
	placeholder := "chat" // the chats stand in for /api/steer's prompt
	body.Prompt = &placeholder
	req, err := s.steerSetup(r, &body.steerRequest)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	steerer, ok := s.Inference.(features.ChatSteerer)
	if !ok {
		s.apiError(w, r, features.Errorf(features.EUNAVAILABLE, "chat steering is not available for model %q", req.ModelID))
		return
	}
	creq := features.SteerChatRequest{SteerRequest: req, DefaultMessages: body.DefaultChatMessages, SteeredMessages: body.SteeredChatMessages}
	ctx, cancel := context.WithTimeout(r.Context(), s.ComputeTimeout)
	defer cancel()
	if !body.Stream {
		out, err := steerer.SteerChat(ctx, creq, nil)
		if err != nil {
			s.apiError(w, r, contextualize(err, s.Inference.MaxTokens(req.ModelID)))
			return
		}
		writeJSON(w, http.StatusOK, newSteerChatResponse(creq, out))
		return
	}
	ev := newEventStream(w)
	sofar := map[string]features.SteerChatCompletion{}
	out, err := steerer.SteerChat(ctx, creq, func(typ, raw string) {
		sofar[typ] = features.SteerChatCompletion{Raw: raw}
		ev.send(newSteerChatResponse(creq, sofar))
	})
	s.endStream(w, r, ev, req.ModelID, err, func() any { return newSteerChatResponse(creq, out) })
}

func newSteerChatResponse(req features.SteerChatRequest, out map[string]features.SteerChatCompletion) steerChatResponse {
	one := func(typ string, msgs []features.SteerChatMessage) *steerChatOutput {
		c, ok := out[typ]
		if !ok {
			return nil
		}
		chat := append(append([]features.SteerChatMessage(nil), msgs...), features.SteerChatMessage{Role: "assistant", Content: c.Reply})
		return &steerChatOutput{Raw: c.Raw, ChatTemplate: chat}
	}
	return steerChatResponse{Steered: one(features.SteerSteered, req.SteeredMessages), Default: one(features.SteerDefault, req.DefaultMessages)}
}
