namespace Aviary.Core.Abstractions;

/// <summary>The result of an operation that can fail in an expected way: success, or an error message for the events.</summary>
public readonly record struct Outcome(string? Error)
{
    public static Outcome Ok => default;

    public bool Succeeded => Error is null;

    public static Outcome Fail(string error) => new(error);

    public override string ToString() => Error ?? "ok";
}

/// <summary>A value, or an error message.</summary>
public readonly record struct Outcome<T>(T? Value, string? Error)
{
    public bool Succeeded => Error is null;

    public static Outcome<T> Ok(T value) => new(value, null);

    public static Outcome<T> Fail(string error) => new(default, error);

    public static implicit operator Outcome<T>(T value) => Ok(value);
}
