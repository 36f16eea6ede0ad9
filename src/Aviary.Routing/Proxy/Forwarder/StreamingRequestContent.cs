using System.IO.Pipelines;
using System.Net;

namespace Aviary.Routing.Proxy.Forwarder;

/// <summary>
/// The client's request body, streamed to the instance as the instance's connection asks for it: read from Kestrel's
/// pipe and written straight to the upstream stream, never buffered (except the mirror's copy, up to its limit).
/// </summary>
internal sealed class StreamingRequestContent(PipeReader body, MirrorCapture? capture) : HttpContent
{
    /// <summary>The upstream connection asked for the body: something may have been sent, so no retry.</summary>
    public bool Started { get; private set; }

    /// <summary>Reading from the client failed (it went away or sent a malformed body).</summary>
    public bool ClientFailed { get; private set; }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        Started = true;
        while (true)
        {
            ReadResult read;
            try
            {
                read = await body.ReadAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception) when (!cancellationToken.IsCancellationRequested)
            {
                ClientFailed = true;
                throw;
            }
            var buffer = read.Buffer;
            foreach (var segment in buffer)
            {
                await stream.WriteAsync(segment, cancellationToken).ConfigureAwait(false);
                capture?.Append(segment.Span);
            }
            body.AdvanceTo(buffer.End);
            if (read.IsCompleted || read.IsCanceled)
            {
                if (read.IsCompleted) capture?.MarkComplete();
                return;
            }
            // Pass what we have on now: a streaming upload must not wait for a full buffer.
            await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    protected override bool TryComputeLength(out long length)
    {
        length = -1;
        return false;
    }
}

/// <summary>A body-less content that only carries content headers (e.g. Content-Type on a GET).</summary>
internal sealed class EmptyContent : HttpContent
{
    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => Task.CompletedTask;

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return true;
    }
}
