// Package bot is the parent of Viza's channels: one package per platform
// (telegram, slack, bitrix24, web, sms) plus logchannel. Each turns platform
// input into flows commands and flows notifications into platform messages.
package bot
