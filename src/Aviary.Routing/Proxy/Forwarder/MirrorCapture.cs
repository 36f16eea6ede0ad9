using System.Buffers;

namespace Aviary.Routing.Proxy.Forwarder;

/// <summary>
/// The copy of a request body kept for the mirror, taken while the body streams to the primary. It gives up (and
/// returns its buffer) as soon as the body passes the limit: only bodies up to the limit are ever buffered.
/// </summary>
internal sealed class MirrorCapture(int limit) : IDisposable
{
    private byte[]? _buffer;
    private int _length;

    /// <summary>The whole body was read and fits the limit.</summary>
    public bool Complete { get; private set; }

    public bool Overflowed { get; private set; }

    public ReadOnlyMemory<byte> Body => _buffer is null ? ReadOnlyMemory<byte>.Empty : _buffer.AsMemory(0, _length);

    public void Append(ReadOnlySpan<byte> data)
    {
        if (Overflowed || data.IsEmpty) return;
        if (_length + data.Length > limit)
        {
            Overflowed = true;
            Dispose();
            return;
        }
        if (_buffer is null || _buffer.Length - _length < data.Length)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Min(limit, Math.Max(_length + data.Length, (_buffer?.Length ?? 2048) * 2)));
            if (_buffer is not null)
            {
                _buffer.AsSpan(0, _length).CopyTo(bigger);
                ArrayPool<byte>.Shared.Return(_buffer);
            }
            _buffer = bigger;
        }
        data.CopyTo(_buffer.AsSpan(_length));
        _length += data.Length;
    }

    public void MarkComplete() => Complete = !Overflowed;

    public void Dispose()
    {
        if (_buffer is not null) ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = null;
        _length = 0;
    }
}
