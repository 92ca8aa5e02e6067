"""Drive Neuronpedia's Python client's completion steering against a saex
server that runs the demo model.

Usage: run_steer_against_saex.py BASE_URL API_KEY MODEL SAE_SOURCE VECTOR_SOURCE VECTOR_INDEX CHAT_MODEL CHAT_VECTOR_SOURCE CHAT_VECTOR_INDEX
(BASE_URL is the server's origin followed by /api; VECTOR_SOURCE/INDEX name
a stored vector of MODEL, CHAT_VECTOR_* one of CHAT_MODEL, which has a chat
template). The calls are SteerCompletionRequest's two methods,
NPVector.steer_completion, SteerChatRequest.steer and NPVector.steer_chat,
unchanged; every assertion is on what the client returns. Exits non-zero
on the first failure.
"""

import sys

import neuronpedia
from neuronpedia.np_feature import SteerFeature
from neuronpedia.np_vector import NPVector
from neuronpedia.requests.base_request import NPRequest
from neuronpedia.requests.steer_request import SteerChatRequest, SteerCompletionRequest

base, key, model, sae_source, vec_source, vec_index, chat_model, chat_source, chat_index = sys.argv[1:10]
NPRequest.BASE_URL = base
neuronpedia.set_api_key(key)

PROMPT = "The quick brown fox"

# steer_features: an SAE feature, greedy, then seeded sampling twice.
feature = SteerFeature(modelId=model, source=sae_source, index=5, strength=4)
greedy = SteerCompletionRequest().steer_features(model_id=model, features=[feature], prompt=PROMPT,
                                                 temperature=0, n_tokens=10, strength_multiplier=2)
for k in ("STEERED", "DEFAULT", "steeredLogProbs", "defaultLogProbs", "id", "shareUrl", "limit"):
    assert k in greedy, (k, greedy)
assert greedy["STEERED"] and greedy["DEFAULT"] and greedy["STEERED"] != greedy["DEFAULT"], greedy
a = SteerCompletionRequest().steer_features(model_id=model, features=[feature], prompt=PROMPT)
b = SteerCompletionRequest().steer_features(model_id=model, features=[feature], prompt=PROMPT)
assert a == b, (a, b)

# NPVector.steer_completion: a stored vector named by its source and index,
# at its default strength (SteerCompletionRequest.steer).
vector = NPVector(label="seven", model_id=model, source=vec_source, index=vec_index, values=[],
                  hook_name="blocks.1.hook_resid_pre", default_steer_strength=6)
out = vector.steer_completion(PROMPT)
assert out["STEERED"] and out["DEFAULT"] and out["STEERED"] != out["DEFAULT"], out

# Chats: NPVector.steer_chat and SteerChatRequest.steer on a model with a
# chat template.
chat_vector = NPVector(label="chat", model_id=chat_model, source=chat_source, index=chat_index, values=[],
                       hook_name="blocks.0.hook_resid_pre", default_steer_strength=20)
story = [{"role": "user", "content": "Write a one sentence story."}]
out = chat_vector.steer_chat(story)
for typ in ("STEERED", "DEFAULT"):
    assert out[typ]["raw"].startswith("<|im_start|>user"), out
    assert out[typ]["chatTemplate"][:1] == story and out[typ]["chatTemplate"][1]["role"] == "assistant", out
assert out["STEERED"]["raw"] != out["DEFAULT"]["raw"], out
out = SteerChatRequest().steer(model_id=chat_model, vectors=[chat_vector], default_chat_messages=story,
                               steered_chat_messages=story, temperature=0, n_tokens=4)
assert out["STEERED"]["raw"] != out["DEFAULT"]["raw"], out

print("steering ran end to end")
