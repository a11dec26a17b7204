//! One message's confirmation: the broker's ack, nack, or return, as a future.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use lapin::{Confirmation, PublisherConfirm};

use crate::sink::SinkError;

/// A broker confirmation for one message.
pub struct RabbitmqConfirm {
    pub(super) inner: PublisherConfirm,
    pub(super) exchange: String,
    pub(super) routing_key: String,
}

impl Future for RabbitmqConfirm {
    type Output = Result<(), SinkError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let confirmation = match Pin::new(&mut this.inner).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(r) => r,
        };
        Poll::Ready(match confirmation {
            Ok(Confirmation::Ack(None)) => Ok(()),
            Ok(Confirmation::Ack(Some(_))) => Err(SinkError::Returned {
                exchange: std::mem::take(&mut this.exchange),
                routing_key: std::mem::take(&mut this.routing_key),
            }),
            Ok(Confirmation::Nack(_)) => Err(SinkError::Nacked),
            // The channel is not in confirm mode: nothing will ever be confirmed on it.
            Ok(Confirmation::NotRequested) => Err(SinkError::Lost(
                "the channel does not confirm publishes".into(),
            )),
            Err(source) => Err(SinkError::Publish { source }),
        })
    }
}
