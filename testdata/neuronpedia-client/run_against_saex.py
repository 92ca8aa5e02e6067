"""Drive Neuronpedia's Python client against a saex server.

Usage: run_against_saex.py BASE_URL API_KEY
(BASE_URL is the server's origin followed by /api). The calls follow the
client's upload_features and upload_vector_and_activations notebooks and
its README; every assertion is on what the client returns. Exits non-zero
on the first failure.
"""

import sys

import neuronpedia
from neuronpedia.np_activation import Activation
from neuronpedia.np_explanation import Explanation
from neuronpedia.np_feature import Feature, Logit
from neuronpedia.np_list import NPList, NPListItem
from neuronpedia.np_model import Model
from neuronpedia.np_source_set import SourceSet
from neuronpedia.np_vector import NPVector
from neuronpedia.requests.activation_request import ActivationRequest
from neuronpedia.requests.base_request import NPRequest
from neuronpedia.requests.feature_request import FeatureRequest

base, key = sys.argv[1], sys.argv[2]
NPRequest.BASE_URL = base  # the client's own setting, as USE_LOCALHOST sets it
neuronpedia.set_api_key(key)

# upload_features: a model, a source set, two features of layer 1.
MODEL_ID = "pup-xl"
model = Model.new(id=MODEL_ID, layers=3, display_name="Puppy Model XL")
assert model.id == MODEL_ID and model.layers == 3, model
source_set = SourceSet.new(model_id=MODEL_ID, name="puppyscope-res-2k")
source_set = SourceSet.get(model_id=MODEL_ID, name="puppyscope-res-2k")
assert [s.id for s in source_set.sources] == ["0-puppyscope-res-2k", "1-puppyscope-res-2k", "2-puppyscope-res-2k"], source_set
source = source_set.get_source_for_layer_number(1)

f1 = Feature(modelId=MODEL_ID, source=source.id, index=0, density=0.03,
             top_logits=[Logit("dog", 0.9), Logit("cat", 0.7)],
             bottom_logits=[Logit("car", -1.1), Logit("house", -0.9)])
f1.activations = [
    Activation(modelId=MODEL_ID, source=source.id, index=0, tokens=["my", " border", " collie"], values=[0, 2.5, 5.3],
               quantileMax=6, quantileMin=5, quantileFraction=0.1),
    Activation(modelId=MODEL_ID, source=source.id, index=0, tokens=["the", " golden", " retriever"], values=[0.2, 3.1, 4.8],
               quantileMax=5, quantileMin=4, quantileFraction=0.05),
]
f1.explanations = [Explanation(modelId=MODEL_ID, source=source.id, index=0, text="magic dog")]
f2 = Feature(modelId=MODEL_ID, source=source.id, index=1, density=0.05)
f2.activations = [
    Activation(modelId=MODEL_ID, source=source.id, index=1, tokens=["my", " tabby", " cat"], values=[0, 1.5, 3.2]),
    Activation(modelId=MODEL_ID, source=source.id, index=1, tokens=["the", " persian", " cat"], values=[0.1, 2.4, 4.1]),
]
f2.explanations = [Explanation(modelId=MODEL_ID, source=source.id, index=1, text="magic cat")]
source.upload_batch(features=[f1, f2])

# Read them back.
got = FeatureRequest().get(MODEL_ID, source.id, 0)
assert got.density == 0.03 and got.explanations[0].text == "magic dog", got
assert [a.values for a in got.activations] == [[0, 2.5, 5.3], [0.2, 3.1, 4.8]], got.activations
assert got.activations[0].quantileFraction == 0.1, got.activations[0]
got2 = Feature.get(MODEL_ID, source.id, 1)
assert len(got2.activations) == 2 and got2.explanations[0].text == "magic cat", got2

# More examples for feature 1.
ActivationRequest().upload_batch(MODEL_ID, source.id, "1", [
    Activation(modelId=MODEL_ID, source=source.id, index=1, tokens=["a", " cat", " nap"], values=[0, 3.7, 0.4])])
assert [max(a.values) for a in Feature.get(MODEL_ID, source.id, 1).activations] == [4.1, 3.7, 3.2]

# upload_vector_and_activations, on the model made above.
v = NPVector.new(label="dinosaurs", model_id=MODEL_ID, layer_num=2, hook_type="hook_resid_pre",
                 vector=[0.25, -1.0, 3.0], default_steer_strength=44)
assert v.source == "2-neuronpedia-resid-pre" and v.hook_name == "blocks.2.hook_resid_pre", v
assert v.url.endswith("/" + MODEL_ID + "/" + v.source + "/" + v.index), v.url
v.upload_activations([Activation(modelId=MODEL_ID, source=v.source, index=v.index,
                                 tokens=["this", " is", " a", " dinosaur"], values=[0, 0, 0.5, 7])])
same = NPVector.get(MODEL_ID, v.source, v.index)
assert same.values == [0.25, -1.0, 3.0] and same.default_steer_strength == 44 and same.label == "dinosaurs", same
owned = NPVector.get_owned()
assert [o.index for o in owned] == [v.index], owned

# Lists (the client's README).
lst = NPList.new(name="dogs and cats", description="two features")
lst = lst.add_items([NPListItem(model_id=MODEL_ID, source=source.id, index="0", description="the dog one"),
                     NPListItem(model_id=MODEL_ID, source=source.id, index="1")])
assert len(lst.items) == 2, lst
back = NPList.get(lst.id)
assert back.name == "dogs and cats" and [i.index for i in back.items] == ["0", "1"], back
assert [l.id for l in NPList.get_owned()] == [lst.id]

v.delete()
assert NPVector.get_owned() == []
print("saex: the Neuronpedia client ran end to end")
