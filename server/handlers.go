package server

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"
)

// writeJSON writes v as a 200 JSON response.
func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, errorf(http.StatusInternalServerError, typeServer, "", "encode response: %v", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(append(b, '\n'))
}

// readBody reads a request body up to Options.MaxBodyBytes (413 past it)
// and then lifts the read deadline, so that the server's background read,
// which notices a client that hangs up, outlives ReadTimeout.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, *apiError) {
	tooBig := func() *apiError {
		return errorf(http.StatusRequestEntityTooLarge, typeInvalid, "body_too_large", "request body is over the %d-byte limit; send less (the server's --max-body-bytes raises it)", s.opts.MaxBodyBytes)
	}
	if r.ContentLength > s.opts.MaxBodyBytes {
		return nil, tooBig()
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, tooBig()
	case err != nil:
		return nil, badRequest("", "read request body: %v", err)
	}
	http.NewResponseController(w).SetReadDeadline(time.Time{})
	return b, nil
}

// checkModel answers 404 when a request names a model other than the one served.
func (s *Server) checkModel(name string) *apiError {
	if name != "" && name != s.ModelName() {
		return &apiError{Status: http.StatusNotFound, Message: "model \"" + name + "\" does not exist; this server serves \"" + s.ModelName() + "\" (GET /v1/models)", Type: typeInvalid, Param: strp("model"), Code: strp("model_not_found")}
	}
	return nil
}

// handleHealth answers 200 when ready, 503 while loading or draining.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	if _, err := s.ready(); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// handleModels lists the one model served.
func (s *Server) handleModels(w http.ResponseWriter, r *http.Request) {
	type modelCard struct {
		ID          string `json:"id"`
		Object      string `json:"object"`
		Created     int64  `json:"created"`
		OwnedBy     string `json:"owned_by"`
		Root        string `json:"root"`
		MaxModelLen int    `json:"max_model_len,omitempty"`
	}
	// While loading the model's name is not known yet: 503, as the other
	// API routes, so that a client polling /v1/models for readiness (and
	// load's choice of the only model) never sees a placeholder.
	if s.state.Load() == stateLoading {
		writeError(w, errLoading())
		return
	}
	card := modelCard{ID: s.ModelName(), Object: "model", Created: s.created, OwnedBy: "gpt2bench", Root: s.ModelName()}
	if e := s.Engine(); e != nil {
		card.MaxModelLen = s.mcfg.NPositions
	}
	writeJSON(w, struct {
		Object string      `json:"object"`
		Data   []modelCard `json:"data"`
	}{"list", []modelCard{card}})
}

// handleChat refuses chat completions: GPT-2 was never trained on a chat
// template, so any template would be one we made up (see README).
func (s *Server) handleChat(w http.ResponseWriter, r *http.Request) {
	writeError(w, &apiError{Status: http.StatusBadRequest, Type: typeInvalid, Param: strp("messages"), Code: strp("no_chat_template"),
		Message: "GPT-2 has no chat template (it was not trained on conversations), so this server does not serve /v1/chat/completions; send the text to /v1/completions as a prompt"})
}

// handleTokenize is vLLM's POST /tokenize: {"prompt": "text"} to
// {"count", "max_model_len", "tokens"}.
func (s *Server) handleTokenize(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model            string `json:"model"`
		Prompt           string `json:"prompt"`
		AddSpecialTokens *bool  `json:"add_special_tokens"`
		ReturnTokenStrs  bool   `json:"return_token_strs"`
	}
	if err := s.decodeBody(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	if err := s.checkModel(req.Model); err != nil {
		writeError(w, err)
		return
	}
	ids, err := s.tok.EncodeSpecial(req.Prompt)
	if err != nil {
		writeError(w, errorf(http.StatusInternalServerError, typeServer, "", "%v", err))
		return
	}
	resp := struct {
		Count       int      `json:"count"`
		MaxModelLen int      `json:"max_model_len"`
		Tokens      []int32  `json:"tokens"`
		TokenStrs   []string `json:"token_strs"`
	}{Count: len(ids), MaxModelLen: s.mcfg.NPositions, Tokens: ids}
	if ids == nil {
		resp.Tokens = []int32{}
	}
	if req.ReturnTokenStrs {
		for _, id := range ids {
			b, _ := s.tok.DecodeToken(id)
			resp.TokenStrs = append(resp.TokenStrs, string(b))
		}
	}
	writeJSON(w, resp)
}

// handleDetokenize is vLLM's POST /detokenize: {"tokens": [ids]} to {"prompt": "text"}.
func (s *Server) handleDetokenize(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model  string  `json:"model"`
		Tokens []int32 `json:"tokens"`
	}
	if err := s.decodeBody(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	if err := s.checkModel(req.Model); err != nil {
		writeError(w, err)
		return
	}
	text, err := s.tok.Decode(req.Tokens)
	if err != nil {
		writeError(w, badRequest("tokens", "%v", err))
		return
	}
	writeJSON(w, struct {
		Prompt string `json:"prompt"`
	}{text})
}

// decodeBody reads and strictly decodes a JSON body.
func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, v any) *apiError {
	b, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	return decodeStrict(b, v)
}
