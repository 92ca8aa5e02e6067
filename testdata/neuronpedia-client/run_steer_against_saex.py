"""Drive Neuronpedia's Python client's completion steering against a saex
server that runs the demo model.

Usage: run_steer_against_saex.py BASE_URL API_KEY MODEL SAE_SOURCE VECTOR_SOURCE VECTOR_INDEX
(BASE_URL is the server's origin followed by /api; VECTOR_SOURCE/INDEX name
a stored vector of MODEL). The calls are SteerCompletionRequest's two
methods and NPVector.steer_completion, unchanged; every assertion is on
what the client returns. Exits non-zero on the first failure.
"""

import sys

import neuronpedia
from neuronpedia.np_feature import SteerFeature
from neuronpedia.np_vector import NPVector
from neuronpedia.requests.base_request import NPRequest
from neuronpedia.requests.steer_request import SteerCompletionRequest

base, key, model, sae_source, vec_source, vec_index = sys.argv[1:7]
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

print("steering ran end to end")
