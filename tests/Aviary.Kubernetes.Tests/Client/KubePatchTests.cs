using System.Text.Json.Nodes;
using Aviary.Kubernetes.Client;

namespace Aviary.Kubernetes.Tests.Client;

/// <summary>The merge patches the operator computes for its status writes.</summary>
public sealed class KubePatchTests
{
    [Fact]
    public void MergeDiff_ChangedAddedRemoved_NullWhenEqual()
    {
        var from = Parse("""{"a":1,"b":{"c":2,"d":3},"e":[1]}""");
        var to = Parse("""{"a":1,"b":{"c":5},"e":[1,2],"f":"x"}""");
        Assert.Equal("""{"b":{"c":5,"d":null},"e":[1,2],"f":"x"}""", KubePatch.MergeDiff(from, to)!.ToJsonString());
        Assert.Null(KubePatch.MergeDiff(to, (JsonObject)to.DeepClone()));
    }

    [Fact]
    public void ModelChange_WritesWhatTheServerLacks_KeepsOthersFields_NothingWhenTheModelIsUnchanged()
    {
        // The server holds no canaryWeight yet (the model reads it as 0) and a field of another writer.
        var stored = Parse("""{"phase":"Initializing","observedBy":"someone"}""");
        var modelled = Parse("""{"phase":"Initializing","canaryWeight":0,"old":"x"}""");
        var desired = Parse("""{"phase":"Initialized","canaryWeight":0}""");
        Assert.Equal("""{"phase":"Initialized","canaryWeight":0,"old":null}""", KubePatch.ModelChange(stored, modelled, desired)!.ToJsonString());
        // The model did not change: no write, whatever the server's representation.
        Assert.Null(KubePatch.ModelChange(stored, desired, (JsonObject)desired.DeepClone()));
    }

    private static JsonObject Parse(string json) => (JsonObject)JsonNode.Parse(json)!;
}
