import { Button, View } from '@tarojs/components';
import type { ButtonProps } from '@tarojs/components';
import type { PropsWithChildren } from 'react';

interface WeuiButtonProps extends Omit<ButtonProps, 'type' | 'size' | 'loading' | 'className' | 'disabled'> {
  kind?: 'primary' | 'default' | 'warn';
  /** WeUI's small inline button (in a cell). */
  mini?: boolean;
  /** WeUI's cell button: a full-width white row with centred text (WeChat's own "Log out"). */
  cell?: boolean;
  /** A call is in flight: WeUI's loading circle, taps ignored, the colour kept (not greyed like disabled). */
  busy?: boolean;
  disabled?: boolean;
  className?: string;
}

/**
 * Taro's Button dressed with WeUI's button classes. No `type`: Taro H5 styles `[type=primary]` itself, more
 * specifically than WeUI's classes. `disabled` is passed only when true: Taro H5 renders disabled="false" as an
 * attribute its CSS treats as disabled.
 */
export function WeuiButton({ kind = 'default', mini, cell, busy, disabled, className, children, onClick, ...rest }: PropsWithChildren<WeuiButtonProps>) {
  const base = cell ? ['weui-btn_cell', `weui-btn_cell-${kind}`] : ['weui-btn', `weui-btn_${kind}`];
  const classes = [...base, mini && 'weui-btn_mini', busy && 'weui-btn_loading', disabled && 'weui-btn_disabled', className].filter(Boolean).join(' ');
  return (
    <Button
      {...rest}
      className={classes}
      disabled={disabled || undefined}
      onClick={(event) => {
        if (!busy && !disabled) onClick?.(event);
      }}
    >
      {busy && (
        <View className={kind === 'default' || cell ? 'weui-primary-loading' : 'weui-primary-loading weui-primary-loading_transparent'}>
          <View className='weui-primary-loading__dot' />
        </View>
      )}
      {children}
    </Button>
  );
}
