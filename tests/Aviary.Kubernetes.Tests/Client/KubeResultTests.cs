using Aviary.Kubernetes.Client;

namespace Aviary.Kubernetes.Tests.Client;

public sealed class KubeResultTests
{
    [Fact]
    public void FromResponse_StatusBody_TakesReasonMessageAndStatus()
    {
        var error = KubeError.FromResponse(409,
            """{"kind":"Status","apiVersion":"v1","status":"Failure","message":"Operation cannot be fulfilled","reason":"Conflict","details":{"name":"x","kind":"configmaps"},"code":409}""");
        Assert.Equal(KubeErrorReason.Conflict, error.Reason);
        Assert.Equal("Operation cannot be fulfilled", error.Message);
        Assert.Equal("Failure", error.Status!.Outcome);
        Assert.Equal("x", error.Status.Details!["name"]!.GetValue<string>());
    }

    [Theory]
    [InlineData(409, "AlreadyExists", KubeErrorReason.AlreadyExists)]
    [InlineData(410, "Expired", KubeErrorReason.Expired)]
    [InlineData(410, "Gone", KubeErrorReason.Expired)]
    [InlineData(403, null, KubeErrorReason.Forbidden)]
    [InlineData(422, null, KubeErrorReason.Invalid)]
    [InlineData(504, "Timeout", KubeErrorReason.ServerTimeout)]
    [InlineData(418, null, KubeErrorReason.Unknown)]
    public void ReasonOf_ReasonOrCode_Maps(int code, string? reason, KubeErrorReason expected) =>
        Assert.Equal(expected, KubeError.ReasonOf(reason, code));

    [Fact]
    public void FromResponse_PlainTextBody_KeepsItAsMessage()
    {
        var error = KubeError.FromResponse(502, "bad gateway from a proxy");
        Assert.Equal(KubeErrorReason.Unknown, error.Reason);
        Assert.Equal("bad gateway from a proxy", error.Message);
        Assert.Null(error.Status);
    }

    [Fact]
    public void Value_OfFailure_ThrowsKubeApiExceptionWithTheStatus()
    {
        var result = KubeResult<string>.Fail(KubeError.FromResponse(404, """{"kind":"Status","reason":"NotFound","message":"gone","code":404}"""));
        Assert.True(result.IsNotFound);
        Assert.False(result.Succeeded);
        var e = Assert.Throws<KubeApiException>(() => result.GetValueOrThrow());
        Assert.Equal(404, e.Code);
        Assert.Equal(KubeErrorReason.NotFound, e.Reason);
        Assert.Equal("NotFound", e.Status!.Reason);
        Assert.Equal("fallback", result.ValueOr("fallback"));
    }
}
